"""desktop/core/status.py: what the connection dot's label and tooltip tell the user in each phase (exact words:
the tooltip is the only place the reason and the time of the next retry are shown)."""

from __future__ import annotations

import time

from desktop.core.status import Color, ConnectionStatus, Phase


def test_each_phase_has_its_colour_label_and_whether_retry_now_applies() -> None:
    expected = {
        Phase.NOT_CONNECTED: (Color.GREY, "Connecting", False),
        Phase.LIVE: (Color.GREEN, "Live", False),
        Phase.CATCHING_UP: (Color.YELLOW, "Catching up", False),
        Phase.RECONNECTING: (Color.YELLOW, "Reconnecting", True),
        Phase.UNREACHABLE: (Color.RED, "Offline", True),
        Phase.TOKEN_REFUSED: (Color.RED, "Token refused", True),
        Phase.UNTRUSTED: (Color.RED, "Certificate not trusted", True),
    }
    for phase, (color, label, retry) in expected.items():
        status = ConnectionStatus(phase, "box")
        assert (status.color, status.label(), status.retry_possible) == (color, label, retry), phase


def test_the_tooltip_of_a_connected_or_starting_view_names_the_runner_and_the_backlog() -> None:
    assert ConnectionStatus(Phase.NOT_CONNECTED, "box").tooltip() == "Not connected yet to box"
    assert ConnectionStatus(Phase.NOT_CONNECTED).tooltip() == "Not connected yet"
    assert ConnectionStatus(Phase.LIVE, "box").tooltip() == "Connected to box and up to date"
    assert ConnectionStatus(Phase.CATCHING_UP, "box", behind=12345).tooltip() == (
        "Connected to box, catching up (12,345 events to go)")
    assert ConnectionStatus(Phase.CATCHING_UP, "box").tooltip() == "Connected to box, catching up"


def test_the_tooltip_of_a_failing_connection_gives_the_attempt_the_reason_and_the_next_retry() -> None:
    now = 1_000_000.0
    retry_at = now + 42.4
    clock = time.strftime("%H:%M:%S", time.localtime(retry_at))
    reconnecting = ConnectionStatus(Phase.RECONNECTING, "box", attempt=3, next_retry_at=retry_at, reason="refused")
    assert reconnecting.tooltip(now) == (
        f"Reconnecting to box (attempt 3)\nReason: refused\nNext retry at {clock} (in 42 s)")
    # Under a second left (or overdue): "now", not "in 0 s".
    assert ConnectionStatus(Phase.UNREACHABLE, "box", attempt=7, next_retry_at=now + 0.6).tooltip(now) == (
        "Runner unreachable to box (attempt 7)\nRetrying now")
    assert ConnectionStatus(Phase.UNREACHABLE, "box", attempt=7, next_retry_at=now - 5).tooltip(now) == (
        "Runner unreachable to box (attempt 7)\nRetrying now")
    # Exactly one second left still counts the seconds.
    one = ConnectionStatus(Phase.RECONNECTING, attempt=1, next_retry_at=now + 1.0).tooltip(now)
    assert one.endswith("(in 1 s)") and one.startswith("Reconnecting (attempt 1)\nNext retry at ")
    # No retry scheduled: no retry line.
    assert ConnectionStatus(Phase.RECONNECTING, "box", attempt=2).tooltip(now) == "Reconnecting to box (attempt 2)"


def test_the_tooltip_of_a_refusal_says_what_the_user_must_do() -> None:
    assert ConnectionStatus(Phase.TOKEN_REFUSED, "box", reason="HTTP 401").tooltip() == (
        "The runner to box refused the token\nReason: HTTP 401\nFix the token in Settings, then Retry now")
    assert ConnectionStatus(Phase.UNTRUSTED, "box").tooltip() == (
        "The certificate of the runner to box is not trusted; the token was not sent\n"
        "Compare it with `nightshift-runner --fingerprint` on its machine, then Retry now")
    # A retry that is scheduled anyway replaces the advice.
    assert ConnectionStatus(Phase.TOKEN_REFUSED, next_retry_at=5.0).tooltip(10.0) == (
        "The runner refused the token\nRetrying now")


def test_the_tooltip_without_an_explicit_time_uses_the_clock() -> None:
    # next retry 100 s from the real clock: the tooltip counts from time.time() when no `now` is given.
    tip = ConnectionStatus(Phase.RECONNECTING, attempt=1, next_retry_at=time.time() + 100).tooltip()
    assert tip.endswith("(in 100 s)") or tip.endswith("(in 99 s)")
