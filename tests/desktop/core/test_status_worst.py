"""The overall dot of several runners: the status that needs the user most."""

from __future__ import annotations

from desktop.core.status import Color, ConnectionStatus, Phase, worst


def test_the_overall_status_is_the_one_asking_most_attention() -> None:
    live, starting = ConnectionStatus(Phase.LIVE, "a"), ConnectionStatus(Phase.NOT_CONNECTED, "b")
    behind, refused = ConnectionStatus(Phase.RECONNECTING, "c"), ConnectionStatus(Phase.TOKEN_REFUSED, "d")
    assert worst([live, live]) is live
    assert worst([live, starting]) is starting
    assert worst([starting, behind, live]) is behind
    assert worst([live, refused, behind]).color is Color.RED
    assert worst([]).phase is Phase.NOT_CONNECTED
