"""Which index ``qa index`` last built from each working folder, so that ``qa ask`` can say when it
answers from another one (the default index, say, after ``qa index ./docs --index-dir ix``)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from index.cache import cache_root

RECORD_FILE = "last-index.json"
#: Working folders remembered; the least recently indexed are forgotten beyond it.
MAX_FOLDERS = 200


def _record(root: Path | None) -> Path:
    return (root or cache_root()) / RECORD_FILE


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def remember_index(folder: Path, index_dir: Path, root: Path | None = None) -> None:
    """Record that ``index_dir`` was built from the working folder ``folder`` (best effort: a
    record that cannot be written only loses the note)."""
    path = _record(root)
    entries = _read(path)
    key = str(folder.resolve())
    entries.pop(key, None)
    entries[key] = str(index_dir.resolve())
    entries = dict(list(entries.items())[-MAX_FOLDERS:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as handle:
            json.dump(entries, handle)
        os.replace(handle.name, path)
    except OSError:
        pass


def other_index_note(folder: Path, index_dir: Path, documents: int, root: Path | None = None) -> str | None:
    """A line saying that answers come from ``index_dir`` when the index last built from ``folder``
    is another one, or ``None``."""
    last = _read(_record(root)).get(str(folder.resolve()))
    if last is None or Path(last) == index_dir.resolve():
        return None
    return (f"note: answered from the index in {index_dir} ({documents} document(s)), not from {last}, "
            f"the index last built in this folder (--index-dir {last})")
