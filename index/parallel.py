"""Document analysis in a separate process, overlapped with embedding.

spaCy's analysis runs on one core and the encoder on all of them; one after the other, the
analysis adds about half of the encoder's time to a build. :class:`AnalysisWorker` runs it in a
spawned process instead, document by document and in order, while the building process embeds
what is ready. While the worker is busy the encoder steps back to the cores the analysis
leaves free (:mod:`index.process`, with :mod:`index.threads`): an encoder and a parser fighting over
the same two cores are both slowed far more than they gain.

The worker only sees documents and hands back :class:`~index.prepare.PreparedDocument` objects,
which are exactly what the in-process path makes, so an index is the same either way.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import Iterator, Sequence

#: Characters of document text the worker may have analysed ahead of the embedding (what is
#: waiting is held in memory: about this many characters again in parse bytes and offsets).
MAX_AHEAD_CHARS = 20_000_000
#: Environment for the worker: spaCy's matrix multiplies on one thread, leaving the rest to the encoder.
_WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class AnalysisWorkerError(RuntimeError):
    """The analysis process failed or exited before finishing."""


def _work(model: str, batch_size: int, chunker: dict, large_document_chars: int | None,
          documents, results, finished, ahead, max_ahead: int) -> None:  # pragma: no cover - runs in the child
    """Body of the worker process: analyse documents from ``documents`` until ``None`` arrives."""
    import time

    try:
        from index.analysis import SpacyAnalyzer
        from index.chunking import ChunkerSettings
        from index.prepare import prepare_documents

        analyzer = SpacyAnalyzer(model, batch_size=batch_size)
        settings = ChunkerSettings(**chunker)

        def incoming():
            while True:
                item = documents.get()
                if item is None:
                    return
                while ahead.value > max_ahead:  # the embedding is behind: wait for it
                    time.sleep(0.02)
                yield item

        for prepared in prepare_documents(incoming(), analyzer, settings, large_document_chars=large_document_chars):
            with ahead.get_lock():
                ahead.value += prepared.text_chars
            results.put(("document", prepared))  # one producer, one queue: in order
        finished.set()
        results.put(("done", None))
    except BaseException as exc:  # report anything, including a KeyboardInterrupt, to the parent
        finished.set()
        results.put(("error", f"{type(exc).__name__}: {exc}"))


class AnalysisWorker:
    """Analyse ``documents`` in a spawned process; iterate to get their prepared analyses in order.

    Use as a context manager (the process is stopped on exit, also on error or interruption)::

        with AnalysisWorker(documents, "en_core_web_sm", ChunkerSettings()) as worker:
            for prepared in worker:
                ...  # meanwhile ``worker.busy`` says whether it is still analysing

    Args:
        documents: the documents, in the order their analyses are wanted.
        model: the spaCy model the worker loads (as :class:`~index.analysis.SpacyAnalyzer` takes it).
        chunker: the chunk settings.
        batch_size: texts per spaCy batch.
        large_document_chars: see :func:`index.prepare.analyse_documents`.
        max_ahead_chars: how much text the worker may analyse ahead of the consumer.
    """

    def __init__(self, documents: Sequence, model: str, chunker, *, batch_size: int = 64,
                 large_document_chars: int | None = None, max_ahead_chars: int = MAX_AHEAD_CHARS) -> None:
        import multiprocessing

        self._documents = documents
        self._max_ahead = max_ahead_chars
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads
        self._inbox = context.Queue(maxsize=64)
        self._results = context.Queue()
        self._finished = context.Event()
        self._ahead = context.Value("q", 0)
        self._stop = threading.Event()
        self._process = context.Process(
            target=_work, name="qa-analysis", daemon=True,
            args=(model, batch_size, chunker.to_dict(), large_document_chars, self._inbox, self._results,
                  self._finished, self._ahead, max_ahead_chars),
        )
        self._feeder = threading.Thread(target=self._feed, name="qa-analysis-feeder", daemon=True)

    def __enter__(self) -> "AnalysisWorker":
        with _environment(_WORKER_ENV):
            self._process.start()
        self._feeder.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _feed(self) -> None:
        """Hand documents to the worker (a bounded queue, so only a few are in flight)."""
        for item in [*self._documents, None]:
            while not self._stop.is_set():
                try:
                    self._inbox.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if self._stop.is_set():
                return

    @property
    def busy(self) -> bool:
        """Whether the worker is analysing right now (neither done nor waiting for the consumer)."""
        return (self._process.is_alive() and not self._finished.is_set()
                and self._ahead.value <= self._max_ahead)

    def __iter__(self) -> Iterator:
        while True:
            try:
                kind, payload = self._results.get(timeout=0.5)
            except queue.Empty:
                if not self._process.is_alive() and self._results.empty():
                    raise AnalysisWorkerError(
                        f"the document analysis process exited unexpectedly (exit code {self._process.exitcode})"
                    ) from None
                continue
            if kind == "error":
                raise AnalysisWorkerError(f"document analysis failed: {payload}")
            if kind == "done":
                return
            with self._ahead.get_lock():
                self._ahead.value -= payload.text_chars
            yield payload

    def close(self) -> None:
        """Stop the feeder and the process (idempotent)."""
        self._stop.set()
        self._inbox.cancel_join_thread()  # never block exit on documents the worker will not read
        if self._process.is_alive():
            self._process.terminate()
        with contextlib.suppress(Exception):
            self._process.join(timeout=5)
        if self._feeder.is_alive():
            self._feeder.join(timeout=1)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for a child about to start, and put them back."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

