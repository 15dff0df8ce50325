"""Run by test_crash_safety in a subprocess: build an index slowly so it can be killed mid-write."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.analysis import SpacyAnalyzer  # noqa: E402
from index.build import build_index  # noqa: E402
from index.documents import document_from_text  # noqa: E402
from tests.conftest import FakeEmbedder  # noqa: E402


class SlowEmbedder(FakeEmbedder):
    def embed(self, texts, *, show_progress=False):
        print("embedding", flush=True)
        time.sleep(0.05 * len(texts))
        vectors = super().embed(texts)
        print("embedded", flush=True)
        return vectors


if __name__ == "__main__":
    index_dir, count = sys.argv[1], int(sys.argv[2])
    docs = [document_from_text(f"doc{i}.txt", f"Document {i}\n\nComet number {i} was seen in year {1900 + i}.")
            for i in range(count)]
    print("start", flush=True)
    build_index(docs, index_dir, SlowEmbedder(), SpacyAnalyzer("blank"))
    print("done", flush=True)
