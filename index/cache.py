"""Caches: the program's cache folder, and a bounded mapping that forgets the least recently used entries first."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Generic, Hashable, TypeVar

def cache_root() -> Path:
    """This program's cache folder: ``$QA_CACHE_DIR``, else ``$XDG_CACHE_HOME/qa-bot``, else
    ``~/.cache/qa-bot`` (exports of the question encoder, the index last built per folder)."""
    if os.environ.get("QA_CACHE_DIR"):
        return Path(os.environ["QA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qa-bot"


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """At most ``capacity`` in total weight of entries (each weighs ``weight(value)``, 1 unless
    given); beyond it the least recently used go first, but the newest entry always stays.

    Reading (``cache[key]``, :meth:`get`) and writing make an entry the most recent. Not
    thread-safe: callers that share one hold their own lock.
    """

    def __init__(self, capacity: int, weight: Callable[[V], int] | None = None) -> None:
        self.capacity = capacity
        self._weight = weight
        self._entries: OrderedDict[K, V] = OrderedDict()
        self.total = 0

    def _weigh(self, value: V) -> int:
        return 1 if self._weight is None else self._weight(value)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, key: K) -> V:
        value = self._entries[key]
        self._entries.move_to_end(key)
        return value

    def get(self, key: K, default: V | None = None) -> V | None:
        return self[key] if key in self._entries else default

    def __setitem__(self, key: K, value: V) -> None:
        if key in self._entries:
            self.total -= self._weigh(self._entries.pop(key))
        self._entries[key] = value
        self.total += self._weigh(value)
        while self.total > self.capacity and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self.total -= self._weigh(dropped)

    def clear(self) -> None:
        self._entries.clear()
        self.total = 0
