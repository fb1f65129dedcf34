"""Frozen entry point of the headless runner."""

from runner.__main__ import main

raise SystemExit(main())
