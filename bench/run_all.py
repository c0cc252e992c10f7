"""`make bench`: run every benchmark script in bench/ one after another (PostgreSQL needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["gateway.py", "requests.py", "ingest.py", "bus.py", "scoring.py", "capacity.py",
           "models.py", "alerts.py", "drills.py", "reviews.py", "audit.py"]


def main() -> int:
    failed = []
    for name in SCRIPTS:
        script = ROOT / "bench" / name
        if not script.exists():
            continue
        print(f"\n=== bench/{name} ===", flush=True)
        module = f"bench.{script.stem}"
        if subprocess.run([sys.executable, "-m", module], cwd=ROOT).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
