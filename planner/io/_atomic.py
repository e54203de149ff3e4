"""Atomic file writes and output-folder checks: nothing already on disk is lost."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Test-only fault injection: when set, called as ``_fault_hook(step, path)`` before each file
#: write (``"write"``) and each move of the output swap (``"move"``); it may raise or pause.
#: Private: no environment variable or option reaches it.
_fault_hook: Callable[[str, Path], None] | None = None


def fault_point(step: str, path: Path) -> None:
    """Call the test-only :data:`_fault_hook`, if any (a no-op otherwise)."""
    if _fault_hook is not None:
        _fault_hook(step, path)


def write_bytes_atomic(path: str | Path, data: bytes, *, output: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename
    (``output=False``: a cache file, not a run's output, so no :func:`fault_point`)."""
    path = Path(path)
    if output:
        fault_point("write", path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        # name the file being written (a failed write() names none, mkstemp its temporary name)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (NaN is written as ``null``) atomically."""
    text = json.dumps(_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars, paths and non-finite floats into JSON-safe values."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj
