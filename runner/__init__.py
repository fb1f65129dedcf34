"""Nightshift runner: owns agent processes, journals their events, serves views.

Pure asyncio. This package must never import Qt (tests/runner/test_no_qt.py checks).
"""

__version__ = "0.1.0"
