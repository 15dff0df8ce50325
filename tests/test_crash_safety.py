"""SIGKILL a real `build_index` process at several points: the previous index must survive."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.load import load_index
from index.manifest import current_version
from tests.conftest import FakeEmbedder

SCRIPT = Path(__file__).with_name("slow_build.py")


@pytest.mark.parametrize("marker,delay", [("start", 0.0), ("embedding", 0.2), ("embedding", 0.8), ("embedded", 0.0)])
def test_sigkill_during_rebuild_keeps_previous_index(tmp_path, small_docs, marker, delay):
    index_dir = tmp_path / "ix"
    build_index(small_docs, index_dir, FakeEmbedder(), SpacyAnalyzer("blank"))
    before = current_version(index_dir)

    process = subprocess.Popen([sys.executable, str(SCRIPT), str(index_dir), "20"], stdout=subprocess.PIPE, text=True)
    while (line := process.stdout.readline().strip()) != marker:
        assert line, "the build ended before reaching the kill point"
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)

    assert current_version(index_dir) == before
    index = load_index(index_dir)
    assert [d.doc_id for d in index.documents] == ["harbour.txt", "orchard.md"]
    leftovers = [p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    if marker != "start":
        assert leftovers, "the killed build should have left its temporary folder"

    # The next build removes the half-written folder and replaces the index.
    build_index(small_docs[:1], index_dir, FakeEmbedder(), SpacyAnalyzer("blank"))
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert [d.doc_id for d in load_index(index_dir).documents] == ["harbour.txt"]


def test_killed_build_completes_when_left_alone(tmp_path):
    index_dir = tmp_path / "ix"
    result = subprocess.run([sys.executable, str(SCRIPT), str(index_dir), "3"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(load_index(index_dir).documents) == 3
