"""Byte-identity check of the plans' outputs across a restructuring.

Runs a fixed set of CLI commands (national US and China, one city plan per strategy on
the Bangor extract, ``compare`` on that city and on China's corridors), all with the
default seed (``PLANNER_SHARED`` names the shared folder, default ``../shared``), and hashes
every GeoJSON, CSV, JSON and Markdown file they write. JSON files are hashed after dropping
timing fields (wall-clock seconds differ run to run).

Usage::

    python scripts/check_identical.py record --dir /tmp/base      # writes hashes.json
    python scripts/check_identical.py check --dir /tmp/after --against /tmp/base/hashes.json

``check`` exits 1 and lists the differing files when any hash differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

_OSM = Path(os.environ.get("PLANNER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
_CITY = str((_OSM / "data" / "osm" / "us_bangor_me.osm.pbf").resolve())

#: (output name, CLI arguments after ``python -m planner``)
RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("national-us", ("national", "--country", "us")),
    ("national-cn", ("national", "--country", "cn")),
    ("city-us-nevi", ("plan", "--osm", _CITY, "--strategy", "us-nevi")),
    ("city-china", ("plan", "--osm", _CITY, "--strategy", "china-pile-swap")),
    ("city-coverage", ("plan", "--osm", _CITY, "--strategy", "coverage")),
    ("city-grid", ("plan", "--osm", _CITY, "--strategy", "grid-baseline")),
    (
        "compare-city",
        ("compare", "--osm", _CITY, "--strategies", "us-nevi,china-pile-swap,coverage"),
    ),
    ("compare-cn", ("compare", "--country", "cn", "--strategies", "us-nevi,china-pile-swap")),
)

_HASHED = (".geojson", ".csv", ".json", ".md")
_TIMING = ("seconds", "elapsed", "wall", "runtime", "duration", "time_s", "timing")
#: Keys whose values differ between two runs by design: the --out folder of the run.
_RUN_KEYS = ("out",)


def _strip_timing(obj: object) -> object:
    """Drop every key that names a timing field (and the run's --out), recursively."""
    if isinstance(obj, dict):
        return {
            k: _strip_timing(v)
            for k, v in obj.items()
            if not any(t in str(k).lower() for t in _TIMING) and k not in _RUN_KEYS
        }
    if isinstance(obj, list):
        return [_strip_timing(v) for v in obj]
    return obj


def _digest(path: Path) -> str:
    """sha256 of a file's bytes (JSON: of its canonical form without timing fields)."""
    data = path.read_bytes()
    if path.suffix == ".json":
        doc = _strip_timing(json.loads(data))
        data = json.dumps(doc, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def run_all(root: Path, *, run: bool = True) -> dict[str, str]:
    """Run every command into ``root/<name>`` (unless ``run`` is false: hash what is there)
    and hash what they wrote."""
    hashes: dict[str, str] = {}
    for name, args in RUNS:
        out = root / name
        cmd = [sys.executable, "-m", "planner", *args, "--out", str(out), "--overwrite", "-q"]
        if run:
            subprocess.run(cmd, check=True)
        for f in sorted(out.rglob("*")):
            if f.is_file() and f.suffix in _HASHED:
                hashes[str(f.relative_to(root))] = _digest(f)
    return hashes


def main(argv: list[str] | None = None) -> int:
    """Record or check the hashes; return the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("record", "check"))
    ap.add_argument("--dir", type=Path, required=True, help="folder for the runs' outputs")
    ap.add_argument("--against", type=Path, help="hashes.json of a recorded baseline")
    ap.add_argument("--no-run", action="store_true", help="hash the outputs already in --dir")
    ns = ap.parse_args(argv)
    hashes = run_all(ns.dir, run=not ns.no_run)
    (ns.dir / "hashes.json").write_text(json.dumps(hashes, indent=1, sort_keys=True))
    if ns.mode == "record":
        print(f"recorded {len(hashes)} files in {ns.dir / 'hashes.json'}")
        return 0
    if ns.against is None:
        ap.error("check needs --against BASELINE/hashes.json")
    base = json.loads(ns.against.read_text())
    diff = sorted(k for k in base.keys() | hashes.keys() if base.get(k) != hashes.get(k))
    for k in diff:
        print(f"DIFFERS: {k}  base={base.get(k, '-')[:12]} now={hashes.get(k, '-')[:12]}")
    print(f"{len(base) - len(diff)}/{len(base)} files byte-identical; {len(diff)} differ")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
