"""Analysing and embedding documents on a Ray cluster (``qa index PATHS --ray auto|ADDRESS``).

The documents that are new or changed go through a Ray Data pipeline: a dataset of documents,
``map_batches`` on a pool of actors that each hold the spaCy pipeline and the encoder (loaded
once per actor), and the entries streamed back to the building process. Each actor runs exactly
the function a local build runs (:func:`index.process.analyse_and_embed`), and the entries go into
the same cache and the same assembly and atomic write (:func:`index.build.build_index`), so an
index built on a cluster has the same chunks, BM25 and manifest as a local one, and vectors
equal within float rounding (the encoder's batches are cut differently).

Documents are read by the building process, which needs every text anyway (the index stores
them, and their hashes decide what is new): the workers need no shared file system, only this
package installed. A worker that dies is restarted by Ray and its batch retried; entries are
keyed by the document's position, so a retried batch neither loses nor duplicates a document.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from index.document_cache import CachedDocument
from index.documents import Document
from index.errors import ClusterError

logger = logging.getLogger(__name__)

#: ``--ray auto``: start a Ray instance on this machine for the build.
LOCAL_CLUSTER = "auto"
#: Roughly the characters of one chunk (120 words); sizes a batch of documents for the encoder.
CHARS_PER_CHUNK = 700
#: Each actor gets at least this many batches, so a slow batch does not leave the others idle
#: and progress is reported as the build goes.
BATCHES_PER_WORKER = 4
_DOCUMENT_FIELDS = ("doc_id", "title", "text", "source", "sha256")


def default_models(recipe: dict):
    """The spaCy analyser and the encoder that ``recipe`` names, loaded lazily (in the actor)."""
    from index.analysis import SpacyAnalyzer
    from index.embedding import SentenceTransformerEmbedder

    return SpacyAnalyzer(recipe["analyzer"]), SentenceTransformerEmbedder(recipe["model"])


class IndexingWorker:
    """A Ray Data actor: holds the models and turns a batch of documents into cache entries.

    Args:
        recipe: see :class:`index.process.DocumentProcessor`.
        embed_batch: chunks per encoder call (as ``QA_EMBED_BATCH_CHUNKS``).
        threads: torch threads (the CPUs the actor was given).
        models: ``recipe -> (analyser, embedder)``; tests pass fakes.
    """

    def __init__(self, recipe: dict, embed_batch: int, threads: int,
                 models: Callable[[dict], tuple] = default_models) -> None:
        import torch

        from index.chunking import ChunkerSettings

        torch.set_num_threads(threads)
        self.recipe = recipe
        self.chunker = ChunkerSettings(**recipe["chunker"])
        self.embed_batch = embed_batch
        self.analyzer, self.embedder = models(recipe)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from index.process import analyse_and_embed

        documents = [Document(**{name: str(batch[name][row]) for name in _DOCUMENT_FIELDS})
                     for row in range(len(batch["position"]))]
        entries = []
        for entry in analyse_and_embed(documents, self.analyzer, self.embedder, self.chunker,
                                       self.recipe["embed_title"], False,
                                       large_document_chars=self.recipe["large_document_chars"],
                                       embed_batch=self.embed_batch, analysis_worker="off"):
            buffer = io.BytesIO()
            entry.write(buffer)
            entries.append(buffer.getvalue())
        return {"position": np.asarray(batch["position"], dtype=np.int64), "entry": np.array(entries, dtype=object)}


def documents_per_batch(documents: Sequence[Document], embed_batch: int, workers: int) -> int:
    """Documents per ``map_batches`` batch: about ``embed_batch`` chunks' worth of text, so the
    encoder runs full batches, but small enough that every worker gets several batches."""
    if not documents:
        return 1
    mean_chars = sum(len(d.text) for d in documents) / len(documents)
    for_encoder = max(1, round(embed_batch * CHARS_PER_CHUNK / max(mean_chars, 1.0)))
    for_balance = max(1, math.ceil(len(documents) / (workers * BATCHES_PER_WORKER)))
    return min(for_encoder, for_balance)


@dataclass
class RayProcessor:
    """Analyse and embed documents on a Ray cluster (an :class:`index.process.DocumentProcessor`).

    The cluster is joined only when there is something to do (an unchanged corpus starts none).

    Args:
        address: ``"auto"`` starts a local Ray instance for the build (with ``workers`` CPUs);
            anything else is the address of a running cluster (``ray://host:10001`` or ``host:6379``).
        workers: actors in the pool; ``None``: one per CPU the cluster has.
        cpus_per_worker: CPUs (and torch threads) each actor is given.
        embed_batch: chunks per encoder call.
        on_step: receives progress messages.
        show_progress: let Ray Data draw its progress bars.
        models: ``recipe -> (analyser, embedder)`` run in each actor; tests pass fakes.
    """

    address: str = LOCAL_CLUSTER
    workers: int | None = None
    cpus_per_worker: int = 1
    embed_batch: int = 256
    on_step: Callable[[str], None] | None = None
    show_progress: bool = False
    models: Callable[[dict], tuple] = default_models

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError("workers must be positive")
        if self.cpus_per_worker < 1:
            raise ValueError("cpus_per_worker must be positive")

    def _say(self, message: str) -> None:
        (self.on_step or logger.info)(message)

    def __call__(self, documents: Sequence[Document], recipe: dict) -> Iterator[tuple[int, CachedDocument]]:
        if not documents:
            return
        ray = import_ray()
        started = not ray.is_initialized()
        if started:
            self._connect(ray)
        try:
            yield from self._run(ray, documents, recipe)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray) -> None:
        options = {"include_dashboard": False, "logging_level": logging.WARNING}
        try:
            if self.address == LOCAL_CLUSTER:
                cpus = (self.workers or os.cpu_count() or 1) * self.cpus_per_worker
                ray.init(address="local", num_cpus=cpus, **options)
            else:
                ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"could not join the Ray cluster at {self.address!r}: {exc}") from None

    def _run(self, ray, documents: Sequence[Document], recipe: dict) -> Iterator[tuple[int, CachedDocument]]:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = self.show_progress
        context.print_on_execution_start = self.show_progress
        cpus = int(ray.cluster_resources().get("CPU", 0))
        workers = self.workers or max(1, cpus // self.cpus_per_worker)
        if workers * self.cpus_per_worker > cpus:
            raise ClusterError(f"{workers} worker(s) of {self.cpus_per_worker} CPU(s) need "
                               f"{workers * self.cpus_per_worker} CPUs; the Ray cluster has {cpus}")
        batch = documents_per_batch(documents, self.embed_batch, workers)
        workers = min(workers, math.ceil(len(documents) / batch))  # an actor with no batch would only load models
        self._say(f"ray: {len(documents)} document(s) in batches of {batch} on {workers} worker(s) "
                  f"of {self.cpus_per_worker} CPU(s)")
        rows = [{"position": k, **{name: asdict(d)[name] for name in _DOCUMENT_FIELDS}}
                for k, d in enumerate(documents)]
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, math.ceil(len(rows) / batch))).map_batches(
            IndexingWorker,
            fn_constructor_kwargs={"recipe": recipe, "embed_batch": self.embed_batch,
                                   "threads": self.cpus_per_worker, "models": self.models},
            batch_size=batch, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
            # Ray Data restarts an actor that dies and runs the batch it held again; an actor
            # that fails while starting (a model missing on a node) fails the build after a few tries.
            num_cpus=self.cpus_per_worker,
        )
        seen = np.zeros(len(documents), dtype=bool)
        done, step = 0, max(1, len(documents) // 10)
        try:
            for output in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                for position, data in zip(output["position"].tolist(), output["entry"]):
                    if seen[position]:
                        continue  # (a retried batch cannot deliver twice, but an entry is only ever used once)
                    seen[position] = True
                    done += 1
                    yield position, CachedDocument.read(io.BytesIO(data))
                    if done % step == 0 or done == len(documents):
                        self._say(f"ray: {done}/{len(documents)} document(s) analysed and embedded")
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"indexing on the Ray cluster failed: {failure_reason(exc)}") from exc
        if not seen.all():
            lost = [documents[k].doc_id for k in np.flatnonzero(~seen)[:5]]
            raise ClusterError(f"the Ray cluster returned no entry for {int((~seen).sum())} document(s), "
                               f"e.g. {', '.join(lost)}")


_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception): .+$", re.MULTILINE)


def failure_reason(exc: BaseException) -> str:
    """The line of a Ray error that names the exception a worker raised (Ray wraps it in its
    own report, whose first line only says that an actor or a task died), else that first line."""
    text = str(exc).strip()
    for candidate in (exc.__cause__, getattr(exc, "cause", None)):
        if candidate is not None and str(candidate).strip():
            text = f"{text}\n{type(candidate).__name__}: {candidate}"
    found = _EXCEPTION_LINE.findall(text)
    return found[-1].strip() if found else (text.splitlines()[0] if text else type(exc).__name__)


def import_ray():
    """``ray`` with Ray Data, or a clear error where it is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ClusterError("indexing with --ray needs Ray: pip install 'qa-bot[ray]'") from None
    return ray
