"""All-or-nothing output folders: a run writes into a staging folder and swaps it into ``--out``.

A run into ``out`` keeps its working entries beside ``out`` (in its parent, so on the same
filesystem), or inside ``out`` when ``out`` is a mount point or its parent is not writable:

``.<out>.planner.lock``
    The lock file: ``flock``-ed by the running process and holding its pid. A second run into the
    same ``out`` is refused; the kernel drops the lock when its holder dies, so the lock file of a
    killed run is taken over.
``.<out>.planner-stage-<pid>/``
    The new products, written by the run.
``.<out>.planner-old-<pid>/``
    During the swap: the earlier products moved aside, with ``swap.json`` naming what moves.
``.<out>.planner-done-<pid>/``
    After the commit: the earlier products, being deleted.

The swap (with SIGINT and SIGTERM held back) moves the earlier products that the run replaces
aside, moves the new ones in, and commits by renaming ``old`` to ``done``; a failure before the
commit moves everything back. A new ``out`` is a single rename of the staging folder. A run killed
in the middle of the swap (kill -9, power loss) leaves ``old`` behind; the next run into the same
``out`` (:func:`recover`) rolls it back before anything else, so ``out`` again holds exactly the
earlier results.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.core.errors import OutputError
from planner.io._atomic import fault_point

logger = logging.getLogger(__name__)

_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_MANIFEST = "swap.json"
_MOVED = "moved-aside"  # written once every earlier product is in old/


@dataclass(frozen=True)
class _Layout:
    """Where the working entries of a run into ``out`` live."""

    out: Path
    side: Path
    prefix: str

    def entry(self, kind: str, pid: int | None = None) -> Path:
        return self.side / f"{self.prefix}{kind}{'' if pid is None else f'-{pid}'}"

    def entries(self, kind: str) -> list[Path]:
        return sorted(self.side.glob(f"{self.prefix}{kind}-*"))


def _layout(out: Path) -> _Layout:
    if out.is_dir() and (
        os.stat(out).st_dev != os.stat(out.parent).st_dev or _readonly(out.parent)
    ):
        return _Layout(out, out, ".planner-")
    return _Layout(out, out.parent, f".{out.name}.planner-")


def _readonly(folder: Path) -> bool:
    return not os.access(folder, os.W_OK | os.X_OK)


def _os_error(exc: OSError, path: Path, what: str) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"--out: cannot {what} {path} ({reason}); choose a writable path")


@contextlib.contextmanager
def output_folder(
    out: str | Path,
    *,
    products: Iterable[str],
    replaces: Iterable[str] = (),
    overwrite: bool,
    keep: Iterable[str | Path | None] = (),
) -> Iterator[Path]:
    """Lock ``out``, yield an empty staging folder to write the run's files into, and swap them
    into ``out`` when the block ends; on any failure ``out`` keeps exactly its earlier contents.

    Parameters
    ----------
    out
        The output folder (``--out``); created with its parents when missing.
    products
        Glob patterns (relative to ``out``) of this run's files; an ``out`` holding any of them is
        refused unless ``overwrite`` is true.
    replaces
        With ``overwrite``, further patterns of earlier results that the run removes (the earlier
        products this run does not write). Files at the paths the run writes are always replaced.
    overwrite
        ``--overwrite``.
    keep
        Files the run reads: never removed, whatever their name.

    Raises
    ------
    OutputError
        ``out`` is a file or not writable, holds results (without ``overwrite``), or another run is
        writing into it.
    """
    out = Path(os.path.abspath(out))
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out: expected a folder, got the existing file {out}; choose another")
    created = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, out.parent, "create folder") from None
    try:
        with _locked(_layout(out)) as layout:
            recover(layout)
            _check_products(out, products, overwrite)
            stage = layout.entry("stage", os.getpid())
            try:
                stage.mkdir()
            except OSError as exc:
                raise _os_error(exc, stage, "create folder") from None
            try:
                try:
                    yield stage
                except OSError as exc:
                    raise _write_error(exc, stage, out) from None
                try:
                    _swap(layout, stage, _moved_aside(out, stage, replaces, overwrite, keep))
                except OSError as exc:
                    raise _write_error(exc, stage, out, swap=True) from None
            finally:
                shutil.rmtree(stage, ignore_errors=True)
    except BaseException:
        for made in created:  # deepest first; stops at the first that is not empty
            try:
                made.rmdir()
            except OSError:
                break
        raise


def _write_error(
    exc: OSError, stage: Path, out: Path, *, swap: bool = False
) -> OSError | OutputError:
    """An OS error of the run's own writes, named by the path in ``out`` it was writing."""
    name = exc.filename if isinstance(exc.filename, str) else None
    if swap:
        target = out
    elif name is None or not Path(name).is_relative_to(stage):
        return exc  # an input or another file: the CLI names it
    else:
        target = out / Path(name).relative_to(stage)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(
            f"--out: no space left writing {target} (the earlier contents of {out} are kept); "
            "free some space or choose another folder"
        )
    return _os_error(exc, target, "write")


def _check_products(out: Path, products: Iterable[str], overwrite: bool) -> None:
    existing = sorted(str(p.relative_to(out)) for p in _matches(out, products))
    if existing and not overwrite:
        shown = ", ".join(existing[:4]) + (", ..." if len(existing) > 4 else "")
        raise OutputError(
            f"--out: {out} already holds results ({shown}); "
            "pass --overwrite to replace them or choose an empty folder"
        )


def _matches(out: Path, patterns: Iterable[str]) -> set[Path]:
    if not out.is_dir():
        return set()
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in out.glob(pattern) if p.is_file() or p.is_symlink())
    return found


def _moved_aside(
    out: Path,
    stage: Path,
    replaces: Iterable[str],
    overwrite: bool,
    keep: Iterable[str | Path | None],
) -> list[str]:
    """The relative paths of the earlier files the swap moves aside."""
    if not out.is_dir():
        return []
    new = {p.relative_to(stage) for p in _files(stage)}
    hit = {out / p for p in new if (out / p).is_file() or (out / p).is_symlink()}
    if overwrite:
        protected = {Path(os.path.abspath(p)) for p in keep if p is not None}
        hit |= {p for p in _matches(out, replaces) if Path(os.path.abspath(p)) not in protected}
    return sorted(str(p.relative_to(out)) for p in hit)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


@contextlib.contextmanager
def _locked(layout: _Layout) -> Iterator[_Layout]:
    """Hold the lock file of ``layout.out`` (refusing when another live run holds it)."""
    path = layout.side / (layout.prefix.rstrip("-") + ".lock")
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _os_error(exc, layout.side, "write into") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise OutputError(
                f"--out: another planner run (pid {holder}) is writing to {layout.out}; "
                "wait for it to finish or choose another folder"
            ) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed it between our open and flock: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield layout
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _swap(layout: _Layout, stage: Path, aside: list[str]) -> None:
    """Move ``aside`` out of ``layout.out`` and the staged files in, all or nothing."""
    out = layout.out
    with _signals_held() as held:
        _raise_if_signalled(held)
        if not out.exists():
            fault_point("move", out)
            os.rename(stage, out)  # the commit of a new folder
            _fsync_dir(out.parent)
            return
        new = [str(p.relative_to(stage)) for p in _files(stage)]
        old = layout.entry("old", os.getpid())
        old.mkdir()
        try:
            _move_all(out, stage, old, aside, new)
            _raise_if_signalled(held)
            os.rename(old, layout.entry("done", os.getpid()))  # the commit
        except BaseException:
            _roll_back(out, old)
            raise
        _fsync_dir(layout.side)
        shutil.rmtree(layout.entry("done", os.getpid()), ignore_errors=True)
        _remove_empty_dirs(out, aside)


class _Held:
    """The SIGINT/SIGTERM handler while a swap runs: it only records the signal.

    Blocking the signals (``pthread_sigmask``) holds them back from the main thread only; a
    signal sent to the process is then delivered to another of its threads (numerical
    libraries' pools), and Python would still run the handler in the main thread, at any point of
    the swap or its rollback. This handler makes that harmless: the swap sees ``received`` and
    rolls back, and the signal is raised again once the folder is whole.
    """

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, frame: object) -> None:
        self.received.append(signum)


@contextlib.contextmanager
def _signals_held() -> Iterator[_Held]:
    """Hold SIGINT and SIGTERM back for the block, then deliver what arrived (see :class:`_Held`).

    Outside the main thread (a Dask worker) Python handlers cannot be set; the signal mask
    alone holds them there, and the process's signals go to its main thread anyway.
    """
    held = _Held()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    earlier: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        earlier = {sig: signal.getsignal(sig) for sig in _SIGNALS}
        for sig in earlier:
            signal.signal(sig, held)
    try:
        yield held
    finally:
        for sig, handler in earlier.items():  # still blocked on this thread
            signal.signal(sig, handler)
        if held.received:
            signal.raise_signal(held.received[0])  # pending on this thread until unblocked
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the last step: its handler may raise


def _move_all(out: Path, stage: Path, old: Path, aside: list[str], new: list[str]) -> None:
    made = sorted({str(d) for n in new for d in _new_dirs(out, Path(n).parent)})
    manifest = {"aside": aside, "new": new, "new_dirs": made}
    (old / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    _fsync_dir(old)
    for name in aside:
        fault_point("move", out / name)
        (old / name).parent.mkdir(parents=True, exist_ok=True)
        os.rename(out / name, old / name)
    (old / _MOVED).write_bytes(b"")
    _fsync_dir(old)
    for name in new:
        fault_point("move", out / name)
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        os.rename(stage / name, out / name)
    _fsync_dir(out)


def _new_dirs(out: Path, rel: Path) -> list[Path]:
    """The folders under ``out`` on the way to ``rel`` that do not exist yet."""
    return [p for p in (rel, *rel.parents) if p != Path(".") and not (out / p).exists()]


def _roll_back(out: Path, old: Path) -> None:
    """Undo a swap into ``out`` whose earlier files are in ``old`` (also after a crash)."""
    manifest_path = old / _MANIFEST
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if (old / _MOVED).exists():  # every earlier file is aside: what is in out is new
            for name in manifest["new"]:
                with contextlib.suppress(FileNotFoundError):
                    (out / name).unlink()
        for name in manifest["aside"]:
            if (old / name).exists() or (old / name).is_symlink():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(old / name, out / name)
        for made in sorted(manifest["new_dirs"], key=lambda d: -len(Path(d).parts)):
            with contextlib.suppress(OSError):
                (out / made).rmdir()
        _fsync_dir(out)
    shutil.rmtree(old, ignore_errors=True)
    logger.info("restored the earlier contents of %s", out)


def _remove_empty_dirs(out: Path, moved: list[str]) -> None:
    """Remove the folders that only held earlier products (``<strategy>/``, ``assets/``)."""
    dirs = {d for name in moved for d in Path(name).parents if d != Path(".")}
    for d in sorted(dirs, key=lambda d: -len(d.parts)):
        with contextlib.suppress(OSError):
            (out / d).rmdir()


def recover(layout: _Layout) -> None:
    """Roll back the swaps of runs killed mid-swap and delete their staging folders.

    Called with the lock held, so every working entry found belongs to a dead run.
    """
    for old in layout.entries("old"):
        logger.warning("%s: rolling back the unfinished swap of a killed run", layout.out)
        _roll_back(layout.out, old)
    for leftover in (*layout.entries("done"), *layout.entries("stage")):
        logger.info("removing %s, left by a killed run", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def recover_folder(out: str | Path) -> None:
    """Lock ``out`` and :func:`recover` it (what every run does first)."""
    with locked_folder(out):
        pass


@contextlib.contextmanager
def locked_folder(out: str | Path) -> Iterator[Path]:
    """Hold the lock of ``out`` for the whole block, after :func:`recover`-ing it.

    The lock every run into ``out`` takes (``planner batch`` holds it while its cities are
    written into subfolders). A lock file left by a dead run is taken over.

    Raises
    ------
    OutputError
        Another live run holds the lock, or ``out``'s folder is not writable.
    """
    with _locked(_layout(Path(os.path.abspath(out)))) as layout:
        recover(layout)
        yield layout.out


def _raise_if_signalled(held: _Held) -> None:
    """Give up the swap when a SIGINT or SIGTERM arrived while it held them back.

    The signal itself is delivered when the swap ends, after the rollback; its handler's
    exception (``KeyboardInterrupt``, the CLI's for SIGTERM) replaces this one.
    """
    if held.received or signal.sigpending() & _SIGNALS:
        raise KeyboardInterrupt


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
