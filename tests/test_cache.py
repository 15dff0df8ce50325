import numpy as np

from index.cache import LRUCache


def test_vector_cache_keeps_the_most_recently_used():
    cache = LRUCache(capacity=2)
    cache[("a", 0)], cache[("a", 1)] = np.ones(2), np.zeros(2)
    _ = cache[("a", 0)]  # used: now the newest
    cache[("b", 0)] = np.ones(2)
    assert ("a", 0) in cache and ("b", 0) in cache and ("a", 1) not in cache and len(cache) == 2


def test_weighted_entries_are_dropped_until_the_total_fits_but_the_newest_stays():
    cache = LRUCache(capacity=10, weight=len)
    cache["a"], cache["b"] = "xxxx", "yyyy"
    assert cache.get("a") == "xxxx"  # now the newest
    cache["c"] = "zzzz"  # 12 > 10: "b", the least recently used, goes
    assert "b" not in cache and cache.total == 8 and len(cache) == 2
    cache["c"] = "z"  # replacing an entry reweighs it
    assert cache.total == 5
    cache["big"] = "w" * 50  # heavier than the capacity: kept alone
    assert list(cache._entries) == ["big"] and cache.total == 50
    assert cache.get("a", "none") == "none"
    cache.clear()
    assert len(cache) == 0 and cache.total == 0
