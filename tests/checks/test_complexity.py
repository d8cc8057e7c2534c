"""No function in shared/ above grade C in radon's cyclomatic complexity: a decision that
grows past that is split into named, separately tested parts (see shared/domain/apply_plan.py
and shared/usecases/checkout_plan.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_in_shared_is_above_grade_c():
    run = subprocess.run([sys.executable, "-m", "radon", "cc", "-n", "D", "-s", "shared"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", "grade D or worse (split it):\n" + run.stdout
