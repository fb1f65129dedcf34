"""Network reachability from QNetworkInformation, where a backend loads (NetworkManager, glib, connman)."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtNetwork import QNetworkInformation

from desktop.lifecycle.core import Network
from desktop.lifecycle.sources.base import LifecycleSink, LifecycleSource, SourceUnavailable

Reachability = QNetworkInformation.Reachability


class ReachabilityInfo(Protocol):
    """The part of QNetworkInformation this source uses (a test may pass its own object with these)."""

    @property
    def reachabilityChanged(self): ...

    def reachability(self) -> QNetworkInformation.Reachability: ...


def reachability_to_state(value: QNetworkInformation.Reachability) -> Network | None:
    """Qt's reachability as the watcher sees it; None when the backend does not know."""
    if value == Reachability.Disconnected:
        return Network.OFFLINE
    if value == Reachability.Online:
        return Network.ONLINE
    if value in (Reachability.Local, Reachability.Site):
        return Network.LIMITED
    return None


def load_network_information() -> QNetworkInformation | None:
    try:
        loaded = QNetworkInformation.loadBackendByFeatures(QNetworkInformation.Feature.Reachability)
        if not loaded:
            loaded = QNetworkInformation.loadDefaultBackend()
    except Exception:
        return None
    return QNetworkInformation.instance() if loaded else None


class NetworkSource(LifecycleSource):
    name = "network"

    def __init__(self, information: ReachabilityInfo | None = None) -> None:
        self._given = information
        self._info: ReachabilityInfo | None = None
        self._sink: LifecycleSink | None = None

    def start(self, sink: LifecycleSink) -> None:
        info = self._given if self._given is not None else load_network_information()
        if info is None:
            raise SourceUnavailable("no QNetworkInformation backend with reachability")
        self._info = info
        self._sink = sink
        info.reachabilityChanged.connect(self._on_reachability_changed)
        sink.report_network(self.name, reachability_to_state(info.reachability()))

    def _on_reachability_changed(self, value: QNetworkInformation.Reachability) -> None:
        if self._sink is not None:
            self._sink.report_network(self.name, reachability_to_state(value))

    def stop(self) -> None:
        if self._info is not None:
            self._info.reachabilityChanged.disconnect(self._on_reachability_changed)
            self._info = None
        self._sink = None
