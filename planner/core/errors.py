"""Exception types.

Every error that a user can cause subclasses :class:`InputError` (itself a ``ValueError``), so
callers may catch ``ValueError``; the CLI turns it into one line on stderr and exit status 2.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base class of planner's own errors."""


class InputError(PlannerError, ValueError):
    """Bad user input: an argument, a parameter, a file, or an area that cannot be planned.

    The message names the argument, what was expected, what arrived and the fix.
    """


class DataError(InputError):
    """An input data file that cannot be read or is inconsistent (for example a broken OSM file)."""


class DownloadError(InputError):
    """An online query (OpenStreetMap through osmnx) that could not be answered: no network,
    a server error or a refused request. Nothing is cached; a local extract avoids it."""


class OutputError(InputError):
    """An output location that cannot be written, or holds results not to be overwritten."""


def describe(value: object, *, limit: int = 60) -> str:
    """Return a short ``repr`` of ``value`` for an error message."""
    text = " ".join(repr(value).split())  # one line: an array's repr spans several
    return text if len(text) <= limit else text[: limit - 3] + "..."
