"""The sans-I/O core: merging window reasons, coalescing wakes, network transitions, clock-gap detection."""

from __future__ import annotations

import pytest

from desktop.lifecycle.clock import ManualClock, SystemClock
from desktop.lifecycle.core import Emitted, LifecycleEvent, LifecycleFilter, Network, SuspendGapDetector

E = LifecycleEvent


def kinds(emitted: list[Emitted]) -> list[LifecycleEvent]:
    return [item.event for item in emitted]


def test_window_reasons_merge_into_one_hidden_and_one_shown() -> None:
    f = LifecycleFilter(ManualClock())
    assert kinds(f.hide("minimized")) == [E.HIDDEN]
    assert f.hide("window_hidden") == []  # a minimize that also arrives as a Hide
    assert f.show("minimized") == []  # still hidden for the other reason
    assert kinds(f.show("window_hidden")) == [E.SHOWN]
    assert f.show("window_hidden") == []  # shown twice is shown once
    assert not f.hidden


def test_primed_hidden_state_is_silent_and_its_end_is_a_shown() -> None:
    f = LifecycleFilter(ManualClock())
    f.prime_hidden("window_hidden")
    assert f.hidden
    assert kinds(f.show("window_hidden")) == [E.SHOWN]


def test_logind_wake_then_clock_gap_of_the_same_sleep_is_one_resume() -> None:
    clock = ManualClock("linux")
    f = LifecycleFilter(clock, resume_coalesce_seconds=10)
    assert kinds(f.suspend()) == [E.SUSPENDING]
    assert f.suspend() == []  # a second source announcing the same sleep
    clock.suspend(120)
    (resumed,) = f.resume(source="logind")
    assert resumed.event is E.RESUMED
    assert resumed.seconds_asleep == pytest.approx(120)  # measured with boottime since the announcement
    clock.advance(2)
    assert f.resume(120.0, source="clock_gap") == []  # the clock-gap tick noticing the same wake


def test_clock_gap_first_then_logind_is_one_resume_with_the_gap_length() -> None:
    clock = ManualClock("linux")
    f = LifecycleFilter(clock)
    f.suspend()
    clock.suspend(30)
    assert f.resume(30.0, source="clock_gap") == [Emitted(E.RESUMED, 30.0)]
    clock.advance(1)
    assert f.resume(source="logind") == []


def test_a_sleep_announcement_read_only_after_its_wake_adds_no_second_resume() -> None:
    """logind does not wait for us before sleeping: PrepareForSleep(true) and (false) may both be read after
    the wake, when the clock-gap tick has already reported it."""
    clock = ManualClock("linux")
    f = LifecycleFilter(clock, resume_coalesce_seconds=10)
    clock.suspend(300)
    assert f.resume(300.0, source="clock_gap") == [Emitted(E.RESUMED, 300.0)]
    clock.advance(0.05)
    assert f.suspend() == []
    assert not f.suspended
    assert f.resume(source="logind") == []


def test_a_new_sleep_is_a_new_resume_even_right_after_the_last_one() -> None:
    clock = ManualClock("linux")
    f = LifecycleFilter(clock)
    f.suspend()
    clock.suspend(5)
    assert len(f.resume()) == 1
    clock.advance(1)
    assert kinds(f.suspend()) == [E.SUSPENDING]
    clock.suspend(5)
    assert len(f.resume()) == 1


def test_resume_without_any_announcement_has_unknown_length_and_bursts_are_dropped() -> None:
    clock = ManualClock("windows")
    f = LifecycleFilter(clock, resume_coalesce_seconds=10)
    assert f.resume(source="a") == [Emitted(E.RESUMED, -1.0)]
    for _ in range(9):
        clock.advance(0.1)
        assert f.resume(source="a") == []  # no machine wakes twice within a second
    clock.advance(10)
    assert len(f.resume(source="a")) == 1  # a later, separate wake is reported again


def test_one_source_reporting_two_quick_wakes_gives_two_resumes() -> None:
    """Lid closed, opened, closed and opened again within seconds, seen only by the clock-gap detector."""
    clock = ManualClock("linux")
    f = LifecycleFilter(clock, resume_coalesce_seconds=10)
    clock.suspend(30)
    assert f.resume(30.0, source="clock_gap") == [Emitted(E.RESUMED, 30.0)]
    clock.advance(3)
    clock.suspend(40)
    assert f.resume(40.0, source="clock_gap") == [Emitted(E.RESUMED, 40.0)]
    # ...but another source's report of that same wake is a duplicate.
    clock.advance(1)
    assert f.resume(source="logind") == []


def test_without_boottime_the_sleep_is_measured_by_the_wall_clock() -> None:
    clock = ManualClock("macos")
    f = LifecycleFilter(clock)
    f.suspend()
    clock.suspend(75)
    assert f.resume() == [Emitted(E.RESUMED, 75.0)]


def test_network_first_report_is_the_starting_state_and_unknown_changes_nothing() -> None:
    f = LifecycleFilter(ManualClock())
    assert f.network_online  # nothing known: treated as online
    assert f.network(Network.OFFLINE) == []  # starting state, not a change
    assert not f.network_online
    assert f.network(None) == []
    assert f.network_online  # unknown counts as online...
    assert kinds(f.network(Network.ONLINE)) == [E.NETWORK_ONLINE]  # ...but only Online is announced
    assert f.network(Network.ONLINE) == []
    assert kinds(f.network(Network.OFFLINE)) == [E.NETWORK_OFFLINE]
    assert f.network(None) == []
    assert f.network_online
    assert kinds(f.network(Network.ONLINE)) == [E.NETWORK_ONLINE]


def test_only_a_change_to_online_is_announced_as_network_back() -> None:
    f = LifecycleFilter(ManualClock())
    f.network(Network.OFFLINE)
    assert f.network(Network.LIMITED) == []  # a local network, maybe no route to the runner yet
    assert f.network_online
    assert kinds(f.network(Network.ONLINE)) == [E.NETWORK_ONLINE]
    assert f.network(Network.LIMITED) == []
    assert kinds(f.network(Network.OFFLINE)) == [E.NETWORK_OFFLINE]


def test_gap_detector_linux_measures_exactly_and_ignores_awake_time() -> None:
    clock = ManualClock("linux")
    d = SuspendGapDetector(clock, interval=2.0)
    for _ in range(5):
        clock.advance(2.0)
        assert d.check() is None
    clock.advance(1.0)
    clock.suspend(300.0)
    clock.advance(1.0)
    assert d.check() == pytest.approx(300.0)
    clock.advance(2.0)
    assert d.check() is None


def test_gap_detector_linux_ignores_a_late_tick_that_was_not_a_sleep() -> None:
    clock = ManualClock("linux")
    d = SuspendGapDetector(clock, interval=2.0)
    clock.advance(60.0)  # the process was starved, not asleep: boottime and monotonic agree
    assert d.check() is None


def test_gap_detector_macos_uses_wall_against_monotonic() -> None:
    clock = ManualClock("macos")
    d = SuspendGapDetector(clock, interval=2.0)
    clock.advance(2.0)
    assert d.check() is None
    clock.suspend(50.0)
    assert d.check() == pytest.approx(50.0)


def test_gap_detector_windows_uses_a_tick_far_later_than_scheduled() -> None:
    clock = ManualClock("windows")
    d = SuspendGapDetector(clock, interval=2.0, late_threshold=15.0)
    clock.advance(2.5)
    assert d.check() is None  # a bit late is normal
    clock.suspend(100.0)
    assert d.check() == pytest.approx(98.0)  # counted from when the tick was due


def test_system_clock_on_linux_has_boottime_at_least_monotonic() -> None:
    clock = SystemClock()
    boot = clock.boottime()
    if boot is None:
        pytest.skip("no CLOCK_BOOTTIME on this platform")
    assert boot >= clock.monotonic() - 1e-3
