"""Run a planner command in a child process and measure its wall time and peak memory."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


# The child runs the CLI in-process and prints its own peak RSS (kB) as the last stderr line.
_CHILD = (
    "import resource, sys; from planner.app.cli import main; rc = main(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def measure(args: list[str]) -> dict[str, Any]:
    """Run ``python -m planner ARGS`` with a fresh ``--out``; return wall seconds and peak RSS.

    Each command runs in its own fresh interpreter, which reports its own ``ru_maxrss``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-c", _CHILD, *args, "--out", str(out), "-q"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        lines = proc.stderr.strip().splitlines()
        peak_kb = int(lines.pop()) if lines and lines[-1].isdigit() else -1
        proc.stderr = "\n".join(lines)
        files = [p for p in out.glob("*") if p.is_file()] if out.exists() else []
        sizes = {p.name: p.stat().st_size for p in files}
    return {
        "command": "planner " + " ".join(args),
        "exit_status": proc.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "output_bytes": sizes,
        "stdout": proc.stdout.strip(),
        "stderr": proc.stderr.strip()[-500:],
    }
