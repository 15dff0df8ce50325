"""api.dependencies.FifoLock: the models go to waiting requests in the order they came."""

from __future__ import annotations

import threading
import time

import pytest

from api.dependencies import FifoLock


def wait_until(condition, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def test_waiters_get_the_lock_in_the_order_they_asked():
    lock = FifoLock()
    order: list[int] = []
    lock.acquire()

    def take(n: int) -> None:
        assert lock.acquire(timeout=5)
        order.append(n)
        time.sleep(0.01)  # holding it a moment lets every later waiter compete
        lock.release()

    threads = []
    for n in range(6):
        thread = threading.Thread(target=take, args=(n,))
        thread.start()
        threads.append(thread)
        wait_until(lambda: lock.waiting() == n + 1)  # each is in line before the next arrives
    lock.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4, 5]


def test_a_waiter_that_gives_up_leaves_the_line():
    lock = FifoLock()
    lock.acquire()
    results: dict[str, bool] = {}
    first = threading.Thread(target=lambda: results.update(first=lock.acquire(timeout=0.1)))
    second = threading.Thread(target=lambda: results.update(second=lock.acquire(timeout=5)))
    first.start()
    wait_until(lambda: lock.waiting() == 1)
    second.start()
    wait_until(lambda: lock.waiting() == 2)
    first.join()
    assert results == {"first": False}
    assert lock.waiting() == 1
    lock.release()
    second.join()
    assert results == {"first": False, "second": True}
    assert lock.acquire(timeout=0) is False  # the second holds it now
    lock.release()
    assert lock.acquire(timeout=0) is True


def test_releasing_an_unheld_lock_is_an_error():
    lock = FifoLock()
    with pytest.raises(RuntimeError, match="release of an unheld FifoLock"):
        lock.release()
    with lock:
        assert lock.acquire(timeout=0) is False
    assert lock.acquire(timeout=0) is True
