"""Run the planner CLI with a pause or a kill at its k-th write/move step (a test helper).

``python tests/_fault_run.py kill K:OUT[,K:OUT...] -- <planner arguments>`` runs, for each K, the
command into ``--out OUT`` in a forked child that SIGKILLs itself at step K, and prints each
child's wait status. The parent only imports (no run has started a thread yet), so the forks are
safe and skip the imports' seconds.

``python tests/_fault_run.py K MARKER -- <planner arguments>``: at the K-th step (file write or swap
move, counted by :func:`planner.io._atomic.fault_point`) it writes ``MARKER`` and waits until a
SIGINT/SIGTERM arrives (also while the swap holds signals back: pending on the main thread, or
recorded by the swap's handler when another thread took it) or ``MARKER.go`` exists, so a test can
signal the run, or start a second run, at a known point of the write phase. The hook is set
in-process through the private ``planner.io._atomic._fault_hook``: the installed package has no
option or environment variable for it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import planner.io._atomic as atomic
from planner.app.cli import main

_LIMIT_S = 120.0  # never hang a test run for ever


def _pause_at(k: int, marker: Path) -> None:
    count = 0

    def hook(step: str, path: Path) -> None:
        nonlocal count
        count += 1
        if count != k:
            return
        marker.write_text(f"{step} {path}\n", encoding="utf-8")
        go = marker.with_name(marker.name + ".go")
        deadline = time.monotonic() + _LIMIT_S
        while time.monotonic() < deadline and not go.exists():
            if signal.sigpending() & {signal.SIGINT, signal.SIGTERM} or getattr(
                signal.getsignal(signal.SIGINT), "received", None
            ):
                return  # held back by the swap: it rolls back, then the signal is delivered
            time.sleep(0.01)  # a signal arriving here raises from its handler

    atomic._fault_hook = hook


def _kill_at(k: int) -> None:
    count = 0

    def hook(step: str, path: Path) -> None:
        nonlocal count
        count += 1
        if count == k:
            os.kill(os.getpid(), signal.SIGKILL)

    atomic._fault_hook = hook


def _kill_each(spec: str, argv: list[str]) -> None:

    assert threading.active_count() == 1, threading.enumerate()
    for item in spec.split(","):
        k, _, out = item.partition(":")
        pid = os.fork()
        if pid == 0:
            _kill_at(int(k))
            os._exit(main([*argv, "--out", out]))
        _, status = os.waitpid(pid, 0)
        print(k, "killed" if os.WIFSIGNALED(status) else "exited", flush=True)


if __name__ == "__main__":
    mode, arg, sep, *argv = sys.argv[1:]
    assert sep == "--", sys.argv
    if mode == "kill":
        _kill_each(arg, argv)
        sys.exit(0)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    _pause_at(int(mode), Path(arg))
    sys.exit(main(argv))
