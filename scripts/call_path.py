"""The modules a ``planner`` command passes through before the optimizer runs (measured).

Runs the command in this process under :func:`sys.setprofile` and, at the first call into
``planner.optimize``, reads the call stack: the chain of planner modules from the CLI down to the
optimizer (a module counted once per run of consecutive frames). ``scripts/import_graph.py``
gives the static view (shortest import chain); this one is what a run really crosses.

Usage::

    python scripts/call_path.py plan --osm tests/fixtures/grid.osm --out /tmp/o --overwrite
    python scripts/call_path.py national --country us --out /tmp/o --overwrite
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any


def call_path(argv: Sequence[str], *, goal: str = "planner.optimize") -> list[str]:
    """The planner modules on the stack at the first call into ``goal`` while the CLI runs
    ``argv`` (outermost first); empty when ``goal`` is never called."""
    from planner.app import cli

    found: list[list[str]] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if found or event != "call" or not frame.f_globals.get("__name__", "").startswith(goal):
            return
        chain: list[str] = []
        f: FrameType | None = frame
        while f is not None:
            name = f.f_globals.get("__name__", "")
            if name.startswith("planner") and (not chain or chain[-1] != name):
                chain.append(name)
            f = f.f_back
        found.append(chain[::-1])

    sys.setprofile(profile)
    try:
        cli.main(list(argv))
    finally:
        sys.setprofile(None)
    return found[0] if found else []


def main(argv: Sequence[str] | None = None) -> int:
    """Print the chain and its length; 1 when the optimizer was never reached."""
    chain = call_path(sys.argv[1:] if argv is None else argv)
    print(f"CLI -> optimizer (run): {len(chain)} modules: {' -> '.join(chain)}")
    return 0 if chain else 1


if __name__ == "__main__":
    raise SystemExit(main())
