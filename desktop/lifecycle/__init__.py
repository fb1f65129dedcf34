"""Reacting to the app's and the machine's lifecycle: window hidden/shown, sleep/wake, network up/down.

`create_watcher()` builds a LifecycleWatcher from every source that works on this platform; a
LifecycleController connects it to the desktop app (stop rendering while hidden, catch up on restore,
probe/reconnect after a wake or when the network returns).
"""

from desktop.lifecycle.controller import LifecycleController, install_lifecycle, shutdown_lifecycle
from desktop.lifecycle.watcher import LifecycleWatcher, create_watcher, platform_sources

__all__ = [
    "LifecycleController",
    "LifecycleWatcher",
    "create_watcher",
    "install_lifecycle",
    "platform_sources",
    "shutdown_lifecycle",
]
