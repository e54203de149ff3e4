"""Fetch the pinned npm packages of the map assets with Python alone (no Node, no npm).

Each package is one tarball on the npm registry, pinned here by version and by the ``sha512``
integrity hash ``package-lock.json`` records for it (a test checks the two agree). A tarball is
downloaded once, verified against its hash before anything is unpacked, and only the files a map
needs are extracted, under ``<cache>/<folder>/`` -- the layout of ``node_modules``, so the same
relative paths serve both.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from planner.core.errors import InputError
from planner.io._atomic import write_bytes_atomic

logger = logging.getLogger(__name__)

REGISTRY = "https://registry.npmjs.org"
CACHE_ENV = "PLANNER_CACHE_DIR"
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class NpmPin:
    """One npm package: its folder below the assets root, registry name, version, integrity."""

    folder: str
    name: str
    version: str
    integrity: str

    @property
    def tarball_url(self) -> str:
        """The registry URL of the package's tarball."""
        return f"{REGISTRY}/{self.name}/-/{self.name.rpartition('/')[2]}-{self.version}.tgz"

    def cdn_url(self, path: str) -> str:
        """The jsDelivr URL of ``path`` inside this exact version of the package."""
        return f"https://cdn.jsdelivr.net/npm/{self.name}@{self.version}/{path}"


# The same pins as package.json / package-lock.json (tests/test_assets.py compares them).
PINS: tuple[NpmPin, ...] = (
    NpmPin(
        "@fortawesome/fontawesome-free",
        "@fortawesome/fontawesome-free",
        "6.7.2",
        "sha512-JUOtgFW6k9u4Y+xeIaEiLr3+cjoUPiAuLXoyKOJSia6Duzb7pq+A76P9ZdPDoAoxHdHzq6gE9/jKBGXlZT8FbA==",
    ),
    NpmPin(
        "bootstrap",
        "bootstrap",
        "5.3.3",
        "sha512-8HLCdWgyoMguSO9o+aH+iuZ+aht+mzW0u3HIMzVu7Srrpv7EBBxTnrFlSCskwdY1+EOFQSm7uMJhNQHkdPcmjg==",
    ),
    NpmPin(
        "bootstrap3",
        "bootstrap",
        "3.4.1",
        "sha512-yN5oZVmRCwe5aKwzRj6736nSmKDX7pLYwsXiCj/EYmo16hODaBiT4En5btW/jhBF/seV+XMx3aYwukYC3A49DA==",
    ),
    NpmPin(
        "jquery",
        "jquery",
        "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
    ),
    NpmPin(
        "leaflet",
        "leaflet",
        "1.9.4",
        "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
    ),
    NpmPin(
        "leaflet.awesome-markers",
        "leaflet.awesome-markers",
        "2.0.5",
        "sha512-Ne/xDjkGyaujwNVVkv2tyXQUV0ZW7gZ0Mo0FuQY4jp2qWrvXi0hwDBvmZyF/8YOvybyMabTMM/mFWCTd1jZIQA==",
    ),
    NpmPin(
        "leaflet.markercluster",
        "leaflet.markercluster",
        "1.5.3",
        "sha512-vPTw/Bndq7eQHjLBVlWpnGeLa3t+3zGiuM7fJwCkiMFq+nmRuG3RI3f7f4N4TDX7T4NpbAXpR2+NTRSEGfCSeA==",
    ),
    NpmPin(
        "leaflet.sync",
        "leaflet.sync",
        "0.2.4",
        "sha512-e59CcQNMFFZJWCAGzyFxcsVldWd0cU7G71q2Zh5a5Pbe7ua4G7CNQcKz51IALf0NzOyRF7ws6gjnndiVWkYN+w==",
    ),
    NpmPin(
        "supercluster",
        "supercluster",
        "8.0.1",
        "sha512-IiOea5kJ9iqzD2t7QJq/cREyLHTtSmUT6gQsweojg9WH2sYJqZK9SswTu6jrscO6D1G5v5vYZ9ru/eq85lXeZQ==",
    ),
)


def default_assets_cache() -> Path:
    """``$PLANNER_CACHE_DIR/assets`` or ``~/.cache/planner/assets``: one copy per user."""
    env = os.environ.get(CACHE_ENV)
    return (Path(env) if env else Path.home() / ".cache" / "planner") / "assets"


def pin_of(source: str) -> tuple[NpmPin, str] | None:
    """The pin whose folder holds ``source`` (a path below the assets root), and the rest."""
    for pin in sorted(PINS, key=lambda p: -len(p.folder)):
        if source.startswith(pin.folder + "/"):
            return pin, source[len(pin.folder) + 1 :]
    return None


def verify(data: bytes, integrity: str) -> bool:
    """Whether ``data`` matches an npm ``sha512-<base64>`` integrity string."""
    algo, _, digest = integrity.partition("-")
    if algo != "sha512":
        return False
    return base64.b64encode(hashlib.sha512(data).digest()).decode("ascii") == digest


def extract(tarball: bytes, pin: NpmPin, paths: Iterable[str], root: Path) -> list[Path]:
    """Write the ``paths`` (relative to the package) of a verified tarball below ``root``.

    Raises
    ------
    InputError
        When the tarball does not match the pin's integrity hash or lacks a wanted file.
    """
    if not verify(tarball, pin.integrity):
        raise InputError(
            f"map assets: {pin.name}@{pin.version} from {pin.tarball_url} does not match its "
            "pinned sha512 integrity; not unpacked (retry, or check the proxy in between)"
        )
    wanted = set(paths)
    written = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for member in tar.getmembers():
            inner = member.name.partition("/")[2]  # npm tarballs wrap files in "package/"
            if inner in wanted and member.isfile():
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                target = root / pin.folder / inner
                target.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(target, handle.read())
                written.append(target)
                wanted.discard(inner)
    if wanted:
        raise InputError(
            f"map assets: {pin.name}@{pin.version} has no {sorted(wanted)[0]}; "
            "the pins in planner/io/_npm.py and planner/io/assets.py disagree"
        )
    return written


def download(pin: NpmPin, *, timeout_s: float = TIMEOUT_S) -> bytes:
    """Download ``pin``'s tarball; raise :class:`InputError` (one line) when that fails."""
    logger.info("map assets: downloading %s@%s", pin.name, pin.version)
    try:
        with urllib.request.urlopen(pin.tarball_url, timeout=timeout_s) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"map assets: cannot reach the npm registry for {pin.name}@{pin.version} ({reason})"
        ) from None


def fetch(needed: dict[NpmPin, set[str]], root: Path) -> None:
    """Download, verify and unpack the ``needed`` files of each package into ``root``."""
    for pin, paths in needed.items():
        extract(download(pin), pin, paths, root)
