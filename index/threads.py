"""How many threads the models' matrix multiplies get: the CPUs this process may use, and how
many of them other programs keep busy right now.

torch runs each layer on a team of OpenMP threads that wait for each other at the end of every
parallel region. When another program keeps a core busy, one of the team's threads is often
descheduled and the whole team waits for it: on 2 cores beside one busy loop, the reader on two
threads took 3 to 15 times as long as on one (``bench/bench_neighbours.py``). So the team is sized
from what is really free, and resized before every question (``torch.set_num_threads`` costs
well under a microsecond):

- :func:`usable_cpus`: the CPUs the process may run on (affinity) and its cgroup CPU quota;
- :class:`CpuLoad`: how many of those CPUs other processes kept busy over the last second
  (``/proc/stat`` minus this process's own CPU time), sampled by a small background thread;
- :func:`choose_threads`: the decision, a pure function;
- :class:`ThreadBudget`: applies it before each unit of model work (``QA_THREADS``: ``auto``,
  or a fixed number that overrides all this).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal, Union

ThreadsSetting = Union[Literal["auto"], int]

#: Cores of other work that a full team tolerates: the scheduler's own bits and an editor or a
#: shell; above it the team runs one thread narrower per busy core.
TOLERATED_BUSY = 0.25
#: How far back the load is measured.
WINDOW_SECONDS = 1.0
#: How often the background thread samples ``/proc/stat``.
SAMPLE_SECONDS = 0.25
#: ``/proc/stat`` counts in clock ticks of this length.
TICK_SECONDS = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01

logger = logging.getLogger(__name__)

PROC_STAT = Path("/proc/stat")
CGROUP_ROOT = Path("/sys/fs/cgroup")


# --------------------------------------------------------------------------- what the process may use


def parse_cpu_max(text: str) -> float | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` (``"150000 100000"`` -> 1.5; ``"max 100000"`` -> None)."""
    fields = text.split()
    if not fields or fields[0] == "max":
        return None
    period = float(fields[1]) if len(fields) > 1 else 100_000.0
    return float(fields[0]) / period if period > 0 else None


def parse_cfs_quota(quota_text: str, period_text: str) -> float | None:
    """CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1: no limit)."""
    quota, period = int(quota_text.strip()), int(period_text.strip())
    return quota / period if quota > 0 and period > 0 else None


def cgroup_paths(proc_self_cgroup: str) -> dict[str, str]:
    """Controller -> cgroup path from ``/proc/self/cgroup`` (``""`` is the unified v2 hierarchy)."""
    paths: dict[str, str] = {}
    for line in proc_self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(","):
            paths[controller] = parts[2]
    return paths


def _ancestors(root: Path, path: str) -> list[Path]:
    """``root/path`` and every folder above it up to ``root`` (a quota anywhere above binds too)."""
    folders = [root]
    current = root
    for part in [p for p in path.split("/") if p]:
        current = current / part
        folders.append(current)
    return folders


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_self_cgroup: str | None = None) -> float | None:
    """The tightest CPU quota over this process's cgroup and its parents (v2 or v1), in CPUs;
    ``None`` without a quota or where cgroups cannot be read."""
    if proc_self_cgroup is None:
        try:
            proc_self_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    paths = cgroup_paths(proc_self_cgroup)
    quotas: list[float] = []
    if "" in paths:  # v2: files directly under the root (or under root/unified on hybrid systems)
        for base in (root, root / "unified"):
            for folder in _ancestors(base, paths[""]):
                quota = _read(lambda: parse_cpu_max((folder / "cpu.max").read_text()))
                if quota is not None:
                    quotas.append(quota)
    for controller in ("cpu", "cpuacct"):
        if controller not in paths:
            continue
        for mount in (root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu"):
            for folder in _ancestors(mount, paths[controller]):
                quota = _read(lambda: parse_cfs_quota((folder / "cpu.cfs_quota_us").read_text(),
                                                      (folder / "cpu.cfs_period_us").read_text()))
                if quota is not None:
                    quotas.append(quota)
    return min(quotas) if quotas else None


def _read(reader: Callable[[], float | None]) -> float | None:
    try:
        return reader()
    except (OSError, ValueError, IndexError):
        return None


def affinity_cpus() -> list[int]:
    """The CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def process_cpus() -> int:
    """:func:`usable_cpus` of this process."""
    return usable_cpus(len(affinity_cpus()), cgroup_cpu_quota())


def usable_cpus(affinity: int, quota: float | None) -> int:
    """How many CPUs' worth of threads the process can run at once.

    A quota is rounded up: throttling stops all the process's threads together at the end of a
    period, so a team of ``ceil(quota)`` threads never waits for one of its own that is stopped.

    Args:
        affinity: CPUs in the affinity mask.
        quota: cgroup CPU quota in CPUs, or ``None``.
    """
    count = max(1, affinity)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota - 1e-9)))
    return count


# --------------------------------------------------------------------------- how busy the CPUs are


@dataclass(frozen=True)
class CpuSample:
    """One reading: when, the busy clock ticks of the watched CPUs, and this process's CPU seconds."""

    wall: float
    busy_ticks: int
    own_seconds: float


def busy_ticks(proc_stat: str, cpus: Iterable[int]) -> int:
    """Busy clock ticks (everything but idle and iowait; steal included, as the hypervisor gave
    the CPU to someone else) summed over the ``cpuN`` lines of ``cpus`` in a ``/proc/stat`` text."""
    wanted = {f"cpu{n}" for n in cpus}
    total = 0
    for line in proc_stat.splitlines():
        name, _, rest = line.partition(" ")
        if name not in wanted:
            continue
        values = [int(v) for v in rest.split()]
        # user nice system idle iowait irq softirq steal (guest time is inside user already)
        total += sum(values[:8]) - values[3] - values[4]
    return total


def others_busy(before: CpuSample, after: CpuSample, tick_seconds: float = TICK_SECONDS) -> float:
    """Cores that other processes kept busy between two samples (0 when the window is empty)."""
    wall = after.wall - before.wall
    if wall <= 0:
        return 0.0
    busy = (after.busy_ticks - before.busy_ticks) * tick_seconds
    own = after.own_seconds - before.own_seconds
    return max(0.0, (busy - own) / wall)


def choose_threads(setting: ThreadsSetting, usable: int, watched: int, busy_elsewhere: float | None) -> int:
    """The thread count for the next piece of model work.

    Args:
        setting: ``"auto"``, or a fixed count (returned as it is).
        usable: :func:`usable_cpus`.
        watched: CPUs whose load ``busy_elsewhere`` measures (the affinity mask).
        busy_elsewhere: cores other processes keep busy (:func:`others_busy`); ``None`` when not
            measured yet (a full team).

    Returns:
        With ``auto``: as many threads as there are CPUs free of other work, counting a CPU as
        free when less than :data:`TOLERATED_BUSY` of it is taken; at least 1, at most ``usable``.
    """
    if setting != "auto":
        return int(setting)
    if busy_elsewhere is None:
        return usable
    free = math.floor(watched - busy_elsewhere + TOLERATED_BUSY)
    return max(1, min(usable, free))


class CpuLoad:
    """Samples ``/proc/stat`` in a daemon thread, keeping about :data:`WINDOW_SECONDS` of history,
    so that :meth:`others_busy` can say at once how busy the watched CPUs were over the last second.

    Args:
        cpus: the CPUs to watch.
        read_stat: returns the text of ``/proc/stat`` (tests pass their own).
        own_seconds: this process's CPU seconds, all threads (``time.process_time``).
        clock: wall clock (``time.monotonic``).
    """

    def __init__(self, cpus: Iterable[int], *, read_stat: Callable[[], str] = PROC_STAT.read_text,
                 own_seconds: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic,
                 start_thread: bool = True) -> None:
        self.cpus = tuple(cpus)
        self._read_stat = read_stat
        self._own_seconds = own_seconds
        self._clock = clock
        self._samples: deque[CpuSample] = deque(maxlen=int(WINDOW_SECONDS / SAMPLE_SECONDS) + 2)
        self._lock = threading.Lock()
        self.sample()
        if start_thread:
            threading.Thread(target=self._run, name="qa-cpu-load", daemon=True).start()

    def reading(self) -> CpuSample:
        """A reading now."""
        return CpuSample(self._clock(), busy_ticks(self._read_stat(), self.cpus), self._own_seconds())

    def sample(self) -> None:
        """Take a reading and keep it (the background thread's step; readings for decisions are
        not kept, so that many decisions a second do not shorten the window)."""
        reading = self.reading()
        with self._lock:
            self._samples.append(reading)

    def others_busy(self) -> float | None:
        """Cores other processes kept busy from the oldest kept reading within the window (or the
        newest one, when all are older) until now; ``None`` when that is too short to tell."""
        now = self.reading()
        with self._lock:
            kept = list(self._samples)
        recent = [s for s in kept if now.wall - s.wall <= WINDOW_SECONDS + SAMPLE_SECONDS]
        start = recent[0] if recent else kept[-1]
        if now.wall - start.wall < 0.05:
            return None
        return others_busy(start, now)

    def _run(self) -> None:
        while True:
            time.sleep(SAMPLE_SECONDS)
            try:
                self.sample()
            except (OSError, ValueError):  # /proc went away (shutdown): stop sampling
                return


_shared_load: CpuLoad | None = None
_shared_lock = threading.Lock()


def shared_cpu_load() -> CpuLoad | None:
    """The process's one :class:`CpuLoad` over its affinity CPUs; ``None`` where ``/proc/stat``
    cannot be read (not Linux)."""
    global _shared_load
    with _shared_lock:
        if _shared_load is None:
            try:
                _shared_load = CpuLoad(affinity_cpus())
            except (OSError, ValueError):
                return None
        return _shared_load


class ThreadBudget:
    """Sizes torch's thread team before each piece of model work.

    Call :meth:`fit` on the thread that then runs the models (torch keeps the count per thread).

    Args:
        setting: ``"auto"`` or a fixed count (``Settings.threads``).
        load: where the load comes from (default: :func:`shared_cpu_load`, started on first use).
        usable: CPUs the process may use (default: affinity and cgroup quota).
    """

    def __init__(self, setting: ThreadsSetting = "auto", *, load: CpuLoad | None = None,
                 usable: int | None = None) -> None:
        self.setting = setting
        self.watched = len(load.cpus) if load is not None else len(affinity_cpus())
        self.usable = usable if usable is not None else process_cpus()
        self._load = load
        if setting == "auto" and load is None and self.usable > 1:
            self._load = shared_cpu_load()  # starts measuring now, so the first question has a window
        logger.info("torch threads: %s (%d usable CPU(s), %d in the affinity mask)", setting, self.usable, self.watched)
        self.last: int | None = None

    def decide(self) -> int:
        """The count for the next piece of work, from the setting and the current load."""
        if self.setting != "auto" or self.usable == 1 or self._load is None:
            return choose_threads(self.setting, self.usable, self.watched, None)
        return choose_threads(self.setting, self.usable, self.watched, self._load.others_busy())

    def fit(self) -> int:
        """Decide, apply to torch on this thread (when torch is in use), and return the count."""
        count = self.decide()
        set_torch_threads(count)
        self.last = count
        return count


def set_torch_threads(count: int) -> None:
    """Run torch's intra-op work on ``count`` threads (nothing to do when torch is not in use)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != count:
        torch.set_num_threads(count)


def torch_threads() -> int | None:
    """torch's current intra-op thread count, or ``None`` when torch is not in use."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None
