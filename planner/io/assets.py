"""Offline map assets: Leaflet, its plugins, CSS and fonts, copied beside a map.

A folium map links about a dozen files on CDNs (Leaflet, jQuery, Bootstrap, Font Awesome,
Leaflet.awesome-markers, Leaflet.markercluster, Leaflet.Sync, the heatmap plugin; planner adds
supercluster). Offline, the
stock HTML renders nothing. planner pins the same libraries as npm packages in ``package.json`` /
``package-lock.json`` and in :data:`planner.io._npm.PINS` (version and sha512 integrity); the
heatmap plugin comes from folium's own wheel (``folium/templates/leaflet_heat.min.js``).

No Node is needed: :func:`find_assets` looks in ``$PLANNER_ASSETS_DIR``, a checkout's
``node_modules`` (``npm ci``) and the per-user cache (``~/.cache/planner/assets``), and with
``fetch=True`` downloads the pinned tarballs into that cache with Python, verifying each against
its integrity hash first (``python -m planner.io.assets`` does it once). :func:`copy_assets` copies
the files a map needs into an ``assets/`` folder (keeping the relative layout their CSS ``url()``
references expect: Leaflet's images, Font Awesome's webfonts, the Glyphicons fonts),
:func:`local_asset` maps a CDN URL to its local copy and :func:`pinned_url` to the CDN URL of the
exact pinned version (for maps written without local assets). :func:`planner.app.maps.write_map`
uses them.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from planner.core.errors import InputError
from planner.io import _npm
from planner.io._atomic import write_bytes_atomic, write_text_atomic

logger = logging.getLogger(__name__)

ENV_VAR = "PLANNER_ASSETS_DIR"
ASSETS_FOLDER = "assets"
FIX = (
    "run 'python -m planner.io.assets' once with internet access (fetches the pinned npm tarballs "
    "into the user cache), or set PLANNER_ASSETS_DIR to a node_modules folder"
)
_FOLIUM = "folium:"  # source prefix: a file inside the installed folium package


@dataclass(frozen=True)
class Asset:
    """One library file a map may link, and where its local copy comes from.

    Attributes
    ----------
    pattern
        Regular expression matched (``re.search``) against a CDN URL.
    source
        Path below the assets root (``node_modules``), or ``"folium:<path>"`` inside folium.
    dest
        Path below the map's ``assets/`` folder.
    extras
        Further files (``source`` -> ``dest`` pairs) the file's CSS refers to: images, fonts.
    """

    pattern: str
    source: str
    dest: str
    extras: tuple[tuple[str, str], ...] = ()


def _tree(src: str, dest: str, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((f"{src}/{name}", f"{dest}/{name}") for name in names)


_LEAFLET_IMAGES = _tree(
    "leaflet/dist/images",
    "leaflet/images",
    ("layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"),
)
_AWESOME_IMAGES = _tree(
    "leaflet.awesome-markers/dist/images",
    "leaflet.awesome-markers/images",
    ("markers-soft.png", "markers-soft@2x.png", "markers-shadow.png", "markers-shadow@2x.png"),
)
_FA_FONTS = _tree(
    "@fortawesome/fontawesome-free/webfonts",
    "fontawesome/webfonts",
    tuple(
        f"fa-{face}.{ext}"
        for face in ("brands-400", "regular-400", "solid-900", "v4compatibility")
        for ext in ("woff2", "ttf")
    ),
)
_GLYPH_FONTS = _tree(
    "bootstrap3/dist/fonts",
    "glyphicons/fonts",
    tuple(f"glyphicons-halflings-regular.{ext}" for ext in ("eot", "svg", "ttf", "woff", "woff2")),
)

# The CDN links folium 0.17-0.20 writes for the elements planner uses, and their local copies.
ASSETS: tuple[Asset, ...] = (
    Asset(r"/leaflet(@[\d.]+)?/dist/leaflet\.js$", "leaflet/dist/leaflet.js", "leaflet/leaflet.js"),
    Asset(
        r"/leaflet(@[\d.]+)?/dist/leaflet\.css$",
        "leaflet/dist/leaflet.css",
        "leaflet/leaflet.css",
        _LEAFLET_IMAGES,
    ),
    Asset(r"/jquery-3[\d.]*(\.min)?\.js$", "jquery/dist/jquery.min.js", "jquery/jquery.min.js"),
    Asset(
        r"/jquery/3[\d.]*/jquery(\.min)?\.js$", "jquery/dist/jquery.min.js", "jquery/jquery.min.js"
    ),
    Asset(
        r"/bootstrap(@5[\d.]*)?/dist/js/bootstrap\.bundle(\.min)?\.js$",
        "bootstrap/dist/js/bootstrap.bundle.min.js",
        "bootstrap/bootstrap.bundle.min.js",
    ),
    Asset(
        r"/bootstrap(@5[\d.]*)?/dist/css/bootstrap(\.min)?\.css$",
        "bootstrap/dist/css/bootstrap.min.css",
        "bootstrap/bootstrap.min.css",
    ),
    Asset(
        r"/bootstrap-glyphicons\.css$",
        "bootstrap3/dist/css/bootstrap.css",  # reduced to its Glyphicons rules on copy
        "glyphicons/css/bootstrap-glyphicons.css",
        _GLYPH_FONTS,
    ),
    Asset(
        r"/fontawesome-free(@[\d.]+)?/css/all(\.min)?\.css$",
        "@fortawesome/fontawesome-free/css/all.min.css",
        "fontawesome/css/all.min.css",
        _FA_FONTS,
    ),
    Asset(
        r"/leaflet\.awesome-markers(\.min)?\.js$",
        "leaflet.awesome-markers/dist/leaflet.awesome-markers.min.js",
        "leaflet.awesome-markers/leaflet.awesome-markers.min.js",
    ),
    Asset(
        r"/leaflet\.awesome-markers\.css$",
        "leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
        "leaflet.awesome-markers/leaflet.awesome-markers.css",
        _AWESOME_IMAGES,
    ),
    Asset(
        r"/leaflet\.markercluster(-src)?\.js$",
        "leaflet.markercluster/dist/leaflet.markercluster.js",
        "leaflet.markercluster/leaflet.markercluster.js",
    ),
    Asset(
        r"/MarkerCluster\.css$",
        "leaflet.markercluster/dist/MarkerCluster.css",
        "leaflet.markercluster/MarkerCluster.css",
    ),
    Asset(
        r"/MarkerCluster\.Default\.css$",
        "leaflet.markercluster/dist/MarkerCluster.Default.css",
        "leaflet.markercluster/MarkerCluster.Default.css",
    ),
    Asset(
        r"/L\.Map\.Sync(\.min)?\.js$", "leaflet.sync/L.Map.Sync.js", "leaflet.sync/L.Map.Sync.js"
    ),
    Asset(
        r"/supercluster(@[\d.]+)?/dist/supercluster(\.min)?\.js$",
        "supercluster/dist/supercluster.min.js",
        "supercluster/supercluster.min.js",
    ),
    Asset(
        r"/leaflet_heat\.min\.js$",
        f"{_FOLIUM}templates/leaflet_heat.min.js",
        "leaflet-heat/leaflet_heat.min.js",
    ),
)

# Links with no packaged copy that a map can do without: dropped with a log line.
OPTIONAL_LINKS: tuple[tuple[str, str], ...] = (
    (
        r"/leaflet\.awesome\.rotate(\.min)?\.css$",
        "folium's rotated-icon CSS (only Icon(angle=...) needs it; planner's icons do not rotate)",
    ),
)


def _missing(root: Path) -> list[str]:
    """The asset source files (npm paths) absent below ``root``."""
    return [
        src
        for asset in ASSETS
        for src, _ in ((asset.source, asset.dest), *asset.extras)
        if not src.startswith(_FOLIUM) and not (root / src).is_file()
    ]


def find_assets(*, fetch: bool = False) -> Path:
    """Return the folder holding the map asset packages (the layout of ``node_modules``).

    ``$PLANNER_ASSETS_DIR`` wins when set; otherwise a checkout's ``node_modules``, then the
    per-user cache (:func:`planner.io._npm.default_assets_cache`).

    Parameters
    ----------
    fetch
        Download what the cache lacks from the npm registry (pinned versions, verified by their
        sha512 integrity before unpacking).

    Raises
    ------
    InputError
        When no folder is complete (and fetching is off or fails): one line saying how to fix it.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        missing = _missing(Path(env))
        if missing:
            raise InputError(f"{ENV_VAR}={env}: map asset {missing[0]} is missing; {FIX}")
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "node_modules"
    cache = _npm.default_assets_cache()
    for root in (checkout, cache):
        if root.is_dir() and not _missing(root):
            return root
    if fetch:
        try:
            return fetch_assets(cache)
        except InputError as exc:
            raise InputError(f"{exc}; {FIX}") from None
    raise InputError(f"map assets: not found in {cache}; {FIX}")


def fetch_assets(cache: Path | None = None) -> Path:
    """Download the pinned packages' map files into ``cache`` (default: the user cache).

    Only what is missing is fetched; each tarball is checked against its sha512 integrity
    before any file is unpacked. Returns ``cache``.
    """
    cache = _npm.default_assets_cache() if cache is None else Path(cache)
    needed: dict[_npm.NpmPin, set[str]] = {}
    for src in _missing(cache):
        found = _npm.pin_of(src)
        if found is None:
            raise InputError(f"map assets: no npm pin holds {src}; add it to planner/io/_npm.py")
        needed.setdefault(found[0], set()).add(found[1])
    if needed:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"map assets: cannot create {cache} ({exc.strerror}); set PLANNER_CACHE_DIR"
            ) from None
        _npm.fetch(needed, cache)
        logger.info("map assets: cached %d packages in %s", len(needed), cache)
    return cache


def pinned_url(url: str) -> str | None:
    """Return the CDN URL of the pinned version of the library ``url`` links, or ``None``.

    npm packages map to jsDelivr at their :data:`planner.io._npm.PINS` version; folium's heatmap
    plugin to the folium release installed; the Glyphicons stylesheet keeps its versioned URL.
    """
    import folium

    for asset in ASSETS:
        if not re.search(asset.pattern, url):
            continue
        if asset.source.startswith(_FOLIUM):
            return (
                f"https://cdn.jsdelivr.net/gh/python-visualization/folium@v{folium.__version__}"
                f"/folium/{asset.source.removeprefix(_FOLIUM)}"
            )
        found = _npm.pin_of(asset.source)
        if found is None or asset.dest.endswith("bootstrap-glyphicons.css"):
            return url if re.search(r"[@/]v?\d+\.\d+", url) else None
        return found[0].cdn_url(found[1])
    return None


def local_asset(url: str) -> str | None:
    """Return the ``assets/``-relative path of the local copy of CDN ``url``, or ``None``."""
    for asset in ASSETS:
        if re.search(asset.pattern, url):
            return f"{ASSETS_FOLDER}/{asset.dest}"
    return None


def optional_link_reason(url: str) -> str | None:
    """Return why ``url`` may be dropped from an offline map, or ``None`` if it may not."""
    for pattern, reason in OPTIONAL_LINKS:
        if re.search(pattern, url):
            return reason
    return None


def copy_assets(out_dir: str | Path, *, root: Path | None = None) -> Path:
    """Copy every asset file into ``out_dir/assets`` and return that folder.

    Parameters
    ----------
    out_dir
        Folder of the map HTML; ``assets/`` is created inside it.
    root
        Installed npm packages (default: :func:`find_assets`).

    Notes
    -----
    Files are written atomically, so maps sharing one folder share one ``assets/``.
    """
    root = find_assets(fetch=True) if root is None else root
    dest_root = Path(out_dir) / ASSETS_FOLDER
    for asset in ASSETS:
        for src, dest in ((asset.source, asset.dest), *asset.extras):
            target = dest_root / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            if dest.endswith("bootstrap-glyphicons.css"):
                write_text_atomic(target, glyphicons_css(_read_source(src, root).decode("utf-8")))
            else:
                write_bytes_atomic(target, _read_source(src, root))
    logger.debug("copied map assets into %s", dest_root)
    return dest_root


def _read_source(src: str, root: Path) -> bytes:
    if src.startswith(_FOLIUM):
        return resources.files("folium").joinpath(src.removeprefix(_FOLIUM)).read_bytes()
    return (root / src).read_bytes()


def glyphicons_css(bootstrap3_css: str) -> str:
    """Keep only the Glyphicons rules of Bootstrap 3's CSS (what ``bootstrap-glyphicons.css`` was).

    Parameters
    ----------
    bootstrap3_css
        The text of Bootstrap 3's ``dist/css/bootstrap.css``.

    Returns
    -------
    str
        The ``@font-face`` of "Glyphicons Halflings" and every top-level rule whose selectors are
        all ``.glyphicon...`` classes; font URLs stay ``../fonts/...``.
    """
    text = re.sub(r"/\*.*?\*/", "", bootstrap3_css, flags=re.S)
    kept = []
    for selector, body in _top_level_rules(text):
        selectors = [s.strip() for s in selector.split(",")]
        is_font = selector.startswith("@font-face") and "Glyphicons" in body
        if is_font or all(s.startswith(".glyphicon") for s in selectors):
            kept.append(f"{selector} {{{body}}}")
    return "/* Glyphicons rules extracted from Bootstrap 3.4.1 (MIT) by planner */\n" + "\n".join(
        kept
    )


def _top_level_rules(css: str) -> list[tuple[str, str]]:
    """Split CSS into top-level ``(selector, body)`` pairs; nested blocks stay inside bodies."""
    rules = []
    depth = 0
    start = 0
    selector = ""
    for i, char in enumerate(css):
        if char == "{":
            if depth == 0:
                selector = css[start:i].strip()
                start = i + 1
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                rules.append((selector, css[start:i]))
                start = i + 1
    return rules


if __name__ == "__main__":  # python -m planner.io.assets: fill the user cache once
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(f"map assets ready in {fetch_assets()}")
    except InputError as error:
        raise SystemExit(f"planner.io.assets: {error}") from None
