"""The kernel pool's fallback to one thread while other processes hold the cores."""

import sys

import pytest

from backends import core_contention, thread_pool
from backends.core_contention import CHECK_SECONDS, FREE_CHECKS, Monitor


class FakeMachine:
    """A clock and the two /proc readings, as the monitor sees them."""

    def __init__(self, monkeypatch):
        self.seconds = 100.0
        self.waited_ns = 0
        self.others = 0
        monkeypatch.setattr(core_contention.time, "monotonic", lambda: self.seconds)
        monkeypatch.setattr(core_contention.time, "monotonic_ns", lambda: int(self.seconds * 1e9))
        monkeypatch.setattr(core_contention, "run_queue_wait_ns", lambda: self.waited_ns)
        monkeypatch.setattr(core_contention, "other_runnable_tasks", lambda: self.others)
        monkeypatch.setattr(core_contention.os, "sched_getaffinity", lambda pid: {0, 1})

    def run(self, seconds: float, waiting_share: float) -> None:
        self.seconds += seconds
        self.waited_ns += int(seconds * waiting_share * 1e9)


def test_a_busy_neighbour_makes_it_serial_and_a_free_machine_parallel_again(monkeypatch):
    machine, monitor = FakeMachine(monkeypatch), Monitor(enabled=True)
    assert monitor.check(2) is False  # the first check only takes a sample
    machine.run(CHECK_SECONDS, waiting_share=0.01)  # both cores ours: ~1% waiting
    assert monitor.check(2) is False
    machine.others = 1  # a busy process on one core
    machine.run(CHECK_SECONDS, waiting_share=0.45)
    assert monitor.check(2) is True
    for _ in range(5):  # it is still running: no core is free for a second thread
        machine.run(CHECK_SECONDS, waiting_share=0.0)
        assert monitor.check(2) is True
    machine.others = 0  # it ended
    answers = []
    for _ in range(FREE_CHECKS):
        machine.run(CHECK_SECONDS, waiting_share=0.0)
        answers.append(monitor.check(2))
    assert answers == [True] * (FREE_CHECKS - 1) + [False]


def test_waiting_on_our_own_threads_alone_keeps_it_parallel(monkeypatch):
    """Our spinning workers can make the caller wait; with no other process runnable the
    cores are still ours."""
    machine, monitor = FakeMachine(monkeypatch), Monitor(enabled=True)
    monitor.check(2)
    for _ in range(3):
        machine.run(CHECK_SECONDS, waiting_share=0.6)
        assert monitor.check(2) is False


def test_more_threads_than_cores_still_come_back_from_serial(monkeypatch):
    machine, monitor = FakeMachine(monkeypatch), Monitor(enabled=True)  # two cores
    machine.others = 1
    monitor.check(4)
    machine.run(CHECK_SECONDS, waiting_share=0.5)
    assert monitor.check(4) is True
    machine.others = 0
    for _ in range(FREE_CHECKS):
        machine.run(CHECK_SECONDS, waiting_share=0.0)
        monitor.check(4)
    assert monitor.check(4) is False


def test_between_checks_the_answer_is_the_last_one(monkeypatch):
    machine, monitor = FakeMachine(monkeypatch), Monitor(enabled=True)
    machine.others = 1
    monitor.check(2)
    machine.run(CHECK_SECONDS / 2, waiting_share=1.0)  # too soon to look again
    assert monitor.check(2) is False
    machine.run(CHECK_SECONDS, waiting_share=0.0)
    assert monitor.check(2) is True  # the wait since the first sample counts


def test_one_thread_or_disabled_is_never_serial(monkeypatch):
    machine = FakeMachine(monkeypatch)
    machine.others = 1
    for monitor, threads in ((Monitor(enabled=True), 1), (Monitor(enabled=False), 2)):
        monitor.check(threads)
        machine.run(CHECK_SECONDS, waiting_share=1.0)
        assert monitor.check(threads) is False


def test_an_unreadable_proc_turns_it_off(monkeypatch):
    FakeMachine(monkeypatch)

    def unreadable():
        raise OSError("no /proc here")

    monkeypatch.setattr(core_contention, "run_queue_wait_ns", unreadable)
    monitor = Monitor(enabled=True)
    assert monitor.check(2) is False and monitor.enabled is False


def test_the_pool_splits_only_while_the_monitor_allows(monkeypatch):
    monkeypatch.setattr(thread_pool, "_get_num_threads", lambda: 3)
    monkeypatch.setattr(core_contention.monitor, "check", lambda threads: True)
    assert thread_pool.width() == 1
    assert thread_pool.configured_width() == 3
    monkeypatch.setattr(core_contention.monitor, "check", lambda threads: False)
    assert thread_pool.width() == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_the_proc_readings_are_numbers_here():
    assert core_contention.run_queue_wait_ns() >= 0
    assert core_contention.other_runnable_tasks() >= 0
