"""The chart's cluster tests reuse the unit-test helpers (tests/unit/chart/chartlib.py)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "chart"))
