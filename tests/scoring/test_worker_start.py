"""A scoring worker starts without LightGBM (and the scikit-learn it brings, 1.5 s of a
start): they are imported with the first tree model or training job, not before."""

from __future__ import annotations

import subprocess
import sys


def test_the_scoring_worker_imports_lightgbm_only_when_it_needs_it() -> None:
    probe = ("import sys; import services.scoring.worker; "
             "print(sorted(m for m in ('lightgbm', 'sklearn') if m in sys.modules))")
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60)
    assert answer.stdout.strip() == "[]"
