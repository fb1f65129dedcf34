"""Packaging recipes live in packaging/ as scripts, not as an installed package: make them importable.

No __init__.py here on purpose: a package named "packaging" would shadow the PyPI package pytest relies on.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"

if str(PACKAGING) not in sys.path:
    sys.path.insert(0, str(PACKAGING))
