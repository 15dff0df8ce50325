"""index.threads: what the process may use, how busy the CPUs are, and the thread count chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.threads import (CpuLoad, CpuSample, ThreadBudget, busy_ticks, cgroup_cpu_quota, cgroup_paths,
                           choose_threads, others_busy, parse_cfs_quota, parse_cpu_max, usable_cpus)

STAT = """cpu  300 10 60 1000 5 0 2 3 0 0
cpu0 100 0 20 500 5 0 1 0 0 0
cpu1 200 10 40 500 0 0 1 3 0 0
intr 12345 0 0
ctxt 999
procs_running 3
"""


def test_cpu_max_is_quota_over_period():
    assert parse_cpu_max("150000 100000\n") == 1.5
    assert parse_cpu_max("200000 50000") == 4.0
    assert parse_cpu_max("max 100000\n") is None
    assert parse_cpu_max("") is None


def test_cfs_quota_minus_one_is_no_limit():
    assert parse_cfs_quota("50000\n", "100000\n") == 0.5
    assert parse_cfs_quota("-1\n", "100000\n") is None


def test_cgroup_paths_read_v1_and_v2_lines():
    text = "12:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n0::/system.slice/qa.service\n"
    assert cgroup_paths(text) == {"cpu": "/docker/abc", "cpuacct": "/docker/abc", "memory": "/docker/abc",
                                  "": "/system.slice/qa.service"}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v2_quota_is_the_tightest_on_the_way_up(tmp_path):
    write(tmp_path / "cpu.max", "max 100000\n")
    write(tmp_path / "app" / "cpu.max", "300000 100000\n")
    write(tmp_path / "app" / "web" / "cpu.max", "150000 100000\n")
    assert cgroup_cpu_quota(tmp_path, "0::/app/web\n") == 1.5
    assert cgroup_cpu_quota(tmp_path, "0::/app\n") == 3.0
    assert cgroup_cpu_quota(tmp_path, "0::/\n") is None


def test_v1_quota_under_the_cpu_controller(tmp_path):
    write(tmp_path / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "250000\n")
    write(tmp_path / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n")
    write(tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path, "4:cpu,cpuacct:/docker/abc\n") == 2.5
    assert cgroup_cpu_quota(tmp_path, "4:memory:/docker/abc\n") is None


def test_no_cgroup_files_means_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path / "missing", "0::/a\n5:cpu:/b\n") is None


def test_usable_cpus_rounds_a_quota_up_within_the_affinity():
    assert usable_cpus(2, None) == 2
    assert usable_cpus(8, 1.5) == 2
    assert usable_cpus(8, 2.0) == 2
    assert usable_cpus(8, 0.5) == 1
    assert usable_cpus(2, 4.0) == 2
    assert usable_cpus(0, None) == 1


def test_busy_ticks_leave_out_idle_and_iowait_of_the_watched_cpus():
    assert busy_ticks(STAT, [0]) == 100 + 20 + 1
    assert busy_ticks(STAT, [1]) == 200 + 10 + 40 + 1 + 3
    assert busy_ticks(STAT, [0, 1]) == 121 + 254
    assert busy_ticks(STAT, [5]) == 0


def test_others_busy_is_busy_time_minus_own_time_over_wall_time():
    before = CpuSample(wall=10.0, busy_ticks=1000, own_seconds=4.0)
    after = CpuSample(wall=12.0, busy_ticks=1300, own_seconds=5.0)  # 3 s busy, 1 s of it ours
    assert others_busy(before, after, tick_seconds=0.01) == pytest.approx(1.0)
    assert others_busy(before, CpuSample(12.0, 1100, 6.0), tick_seconds=0.01) == 0.0  # never negative
    assert others_busy(before, before) == 0.0


@pytest.mark.parametrize("busy, threads", [(None, 2), (0.0, 2), (0.2, 2), (0.3, 1), (1.0, 1), (2.0, 1)])
def test_auto_on_two_cores(busy, threads):
    assert choose_threads("auto", usable=2, watched=2, busy_elsewhere=busy) == threads


def test_auto_counts_free_cpus_up_to_the_usable_ones():
    assert choose_threads("auto", usable=8, watched=8, busy_elsewhere=2.5) == 5
    assert choose_threads("auto", usable=4, watched=16, busy_elsewhere=10.0) == 4  # a quota of 4 on a busy host
    assert choose_threads("auto", usable=2, watched=16, busy_elsewhere=15.9) == 1


def test_a_fixed_setting_wins():
    assert choose_threads(3, usable=2, watched=2, busy_elsewhere=2.0) == 3
    assert choose_threads(1, usable=8, watched=8, busy_elsewhere=0.0) == 1


class FakeMachine:
    """A /proc/stat with two CPUs whose busy ticks and this process's CPU time the test moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.ticks = [0, 0]
        self.own = 0.0

    def stat(self) -> str:
        return "".join(f"cpu{n} {t} 0 0 1000 0 0 0 0 0 0\n" for n, t in enumerate(self.ticks))

    def load(self) -> CpuLoad:
        return CpuLoad([0, 1], read_stat=self.stat, own_seconds=lambda: self.own, clock=lambda: self.now,
                       start_thread=False)


def test_cpu_load_measures_from_the_oldest_reading_in_the_window():
    machine = FakeMachine()
    load = machine.load()
    assert load.others_busy() is None  # no time has passed yet
    machine.now += 0.5
    machine.ticks = [50, 50]  # 1 s of CPU in 0.5 s, 0.25 s of it ours
    machine.own = 0.25
    assert load.others_busy() == pytest.approx(1.5)
    load.sample()
    machine.now += 0.5
    load.sample()
    machine.now += 0.5  # the first reading (1.5 s ago) is out of the window; the one 1 s ago starts it
    machine.ticks = [60, 150]
    machine.own = 0.75
    assert load.others_busy() == pytest.approx((1.1 - 0.5) / 1.0)
    machine.now += 10.0  # all kept readings are old: the newest one starts the window
    assert load.others_busy() == pytest.approx((1.1 - 0.5) / 10.5)


def test_budget_sets_torch_threads_from_the_load():
    torch = pytest.importorskip("torch")
    machine = FakeMachine()
    load = machine.load()
    before = torch.get_num_threads()
    try:
        budget = ThreadBudget("auto", load=load, usable=2)
        machine.now += 1.0
        machine.ticks = [100, 0]  # another process kept one CPU busy
        assert budget.fit() == 1 and torch.get_num_threads() == 1
        load.sample()
        machine.now += 1.0  # and then nothing ran
        assert budget.fit() == 2 and torch.get_num_threads() == 2
        assert ThreadBudget(1, load=load, usable=2).fit() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
