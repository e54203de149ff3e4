"""Write a map page, optionally with every script and stylesheet served from a local folder."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from branca.element import Element

from planner.core.errors import InputError, OutputError
from planner.io import assets
from planner.io._atomic import write_text_atomic

logger = logging.getLogger(__name__)

# A <script ... src="..."> or <link ... href="..."> tag, with the URL captured.
_TAG_URL = re.compile(
    r"""<(?P<tag>script|link)\b(?P<pre>[^>]*?)\b(?P<attr>src|href)\s*=\s*(?P<q>["'])"""
    r"""(?P<url>.*?)(?P=q)(?P<post>[^>]*)>(?P<close>\s*</script>)?""",
    re.IGNORECASE | re.DOTALL,
)
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def write_map(m: Element, path: str | Path, *, offline_assets: bool) -> Path:
    """Render ``m`` (a folium Map or a page Figure) to ``path`` atomically.

    Parameters
    ----------
    m
        A ``folium.Map`` or the ``branca.element.Figure`` from :func:`compare_map`.
    path
        The HTML file to write; its folder must exist.
    offline_assets
        If true, copy Leaflet, its plugins, CSS and fonts into ``assets/`` beside ``path`` and
        point every ``<script src>`` and ``<link href>`` at them; a link with no local copy
        raises :class:`InputError`, so the page never reaches for a CDN. The assets come from
        :func:`planner.io.assets.find_assets` (fetched once into the user cache when missing).
        Build such maps with ``offline_assets=True`` too, which leaves out the web tiles. If
        false, every CDN link is rewritten to the exact version planner pins
        (:func:`pin_links`).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(
            f"path: expected a file in an existing folder, got {path}; create {path.parent} first"
        )
    root = assets.find_assets(fetch=True) if offline_assets else None  # fail before rendering
    page = m.get_root().render()
    if root is not None:
        page = localise_links(page)
        if "tile.openstreetmap.org" in page:
            logger.warning("%s: the map has web tiles; build it with offline_assets=True", path)
        assets.copy_assets(path.parent, root=root)
    else:
        page = pin_links(page)
    write_text_atomic(path, page)
    logger.info("wrote map %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def localise_links(page: str) -> str:
    """Point every remote ``<script src>``/``<link href>`` of ``page`` at ``assets/``.

    Links with no local copy that a map can do without (see
    :data:`planner.io.assets.OPTIONAL_LINKS`)
    are removed; any other remote link raises :class:`InputError`.
    """

    def replace(match: re.Match[str]) -> str:
        url = match.group("url")
        if not _REMOTE.match(url):
            return match.group(0)
        local = assets.local_asset(url)
        if local is not None:
            start, end = match.span("url")
            offset = match.start(0)
            whole = match.group(0)
            return whole[: start - offset] + local + whole[end - offset :]
        reason = assets.optional_link_reason(url)
        if reason is not None:
            logger.info("offline map: dropped %s (%s)", url, reason)
            return ""
        raise InputError(
            f"m: the map links {url}, which has no offline copy in planner.io.assets.ASSETS; "
            "remove that element or write the map with offline_assets=False"
        )

    page = _TAG_URL.sub(replace, page)
    left = remote_links(page)
    if left:
        raise InputError(f"m: remote links left after localising: {', '.join(left[:3])}")
    return page


def pin_links(page: str) -> str:
    """Point every CDN ``<script src>``/``<link href>`` of ``page`` at a pinned version.

    Known libraries go to the version :mod:`planner.io._npm` pins (the same files offline maps
    copy); links a map can do without are dropped; any other link is kept and logged.
    """

    def replace(match: re.Match[str]) -> str:
        url = match.group("url")
        if not _REMOTE.match(url):
            return match.group(0)
        pinned = assets.pinned_url(url)
        if pinned is None:
            if assets.optional_link_reason(url) is not None:
                return ""
            logger.warning("map links %s, which planner does not pin to a version", url)
            return match.group(0)
        start, end = match.span("url")
        whole, offset = match.group(0), match.start(0)
        return whole[: start - offset] + pinned + whole[end - offset :]

    return _TAG_URL.sub(replace, page)


def remote_links(page: str) -> list[str]:
    """Return every ``http(s)://`` or protocol-relative URL in a script ``src``/link ``href``."""
    return [
        match.group("url") for match in _TAG_URL.finditer(page) if _REMOTE.match(match.group("url"))
    ]
