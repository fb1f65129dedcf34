"""Lifecycle sources: each one optional, each behind LifecycleSource (see base.py)."""

from desktop.lifecycle.sources.base import LifecycleSink, LifecycleSource, SourceUnavailable

__all__ = ["LifecycleSink", "LifecycleSource", "SourceUnavailable"]
