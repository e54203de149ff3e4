"""Atomic file writes and output-folder checks: nothing already on disk is lost."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from planner.errors import OutputError


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
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


def prepare_out_dir(out: str | Path, *, products: Iterable[str], overwrite: bool) -> Path:
    """Check that ``out`` can receive ``products`` and create it; raise :class:`OutputError` if not.

    An ``out`` that already holds any of ``products`` is refused unless ``overwrite`` is true, so
    earlier results are never replaced by accident. The check runs before any work is done.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"--out: expected a folder, got the existing file {out}; choose another path"
        )
    existing = sorted(p for p in products if (out / p).exists())
    if existing and not overwrite:
        raise OutputError(
            f"--out: {out} already holds results ({', '.join(existing)}); "
            "pass --overwrite to replace them or choose an empty folder"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"--out: cannot create folder {out} ({exc.strerror}); choose a writable path"
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"--out: folder {out} is not writable; choose a writable path")
    probe = out / f".planner-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        raise OutputError(
            f"--out: folder {out} is not writable ({exc.strerror}); choose a writable path"
        ) from None
    finally:
        probe.unlink(missing_ok=True)
    return out


@contextlib.contextmanager
def output_folder(out: str | Path, *, products: Iterable[str], overwrite: bool) -> Iterator[Path]:
    """:func:`prepare_out_dir`, then the block that fills the folder; the folders this call
    created (``out`` and any missing parents) are removed again, deepest first and only while
    empty, when the block fails."""
    path = Path(out).absolute()
    created = [p for p in (path, *path.parents) if not p.exists()]
    folder = prepare_out_dir(out, products=products, overwrite=overwrite)
    try:
        yield folder
    except BaseException:
        for made in created:  # deepest first; stops at the first that is not empty
            try:
                made.rmdir()
            except OSError:
                break
        raise


def remove_stale(
    out: Path,
    *,
    products: Iterable[str],
    written: Iterable[str],
    inputs: Iterable[str | Path | None] = (),
) -> list[str]:
    """Delete the ``products`` in ``out`` that this run did not write (left by an earlier run
    that ``--overwrite`` replaced), so the folder holds one run's results; return their names.

    A file this run read (``inputs``) is never deleted, whatever its name.
    """
    keep = set(written)
    protected = {Path(p).resolve() for p in inputs if p is not None}
    stale = sorted(
        p
        for p in products
        if p not in keep and (out / p).is_file() and (out / p).resolve() not in protected
    )
    for name in stale:
        (out / name).unlink()
    return stale
