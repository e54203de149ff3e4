"""The Python fetcher of the map assets: pins agree with package-lock.json, tarballs are verified
before unpacking, a missing cache without network is one line, online maps link pinned versions."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import tarfile
from pathlib import Path

import pytest

from planner.app.demo import resolve_offline_assets
from planner.app.maps import compare_map, pin_links, remote_links
from planner.core.errors import InputError
from planner.io import _npm, assets
from tests.synthetic_plans import synthetic_ground, synthetic_plan

ROOT = Path(__file__).resolve().parent.parent


def test_pins_match_package_lock() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    direct = lock[""]["dependencies"]
    assert {p.folder for p in _npm.PINS} == set(direct)
    for pin in _npm.PINS:
        entry = lock[f"node_modules/{pin.folder}"]
        assert (entry.get("name", pin.folder), entry["version"]) == (pin.name, pin.version)
        assert entry["integrity"] == pin.integrity


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_extract_verifies_the_hash_before_unpacking(tmp_path: Path) -> None:
    tgz = _tarball({"dist/a.js": b"var a = 1;", "README.md": b"skip me"})
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    pin = _npm.NpmPin("demo", "demo", "1.0.0", integrity)
    written = _npm.extract(tgz, pin, ["dist/a.js"], tmp_path)
    assert written == [tmp_path / "demo" / "dist" / "a.js"]
    assert written[0].read_bytes() == b"var a = 1;"
    assert not (tmp_path / "demo" / "README.md").exists()
    tampered = tgz[:-1] + bytes([tgz[-1] ^ 1])
    with pytest.raises(InputError, match="does not match its pinned sha512"):
        _npm.extract(tampered, pin, ["dist/a.js"], tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_no_cache_and_no_network_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(assets.ENV_VAR, raising=False)
    monkeypatch.setenv(_npm.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(assets, "__file__", str(tmp_path / "planner" / "assets.py"))

    def offline(pin: _npm.NpmPin, **_: object) -> bytes:
        raise InputError(f"map assets: cannot reach the npm registry for {pin.name} (offline)")

    monkeypatch.setattr(_npm, "download", offline)
    with pytest.raises(InputError) as info:
        assets.find_assets(fetch=True)
    message = str(info.value)
    assert "\n" not in message and "python -m planner.io.assets" in message
    with caplog.at_level(logging.WARNING, logger="planner.app.demo"):
        assert resolve_offline_assets(False) is False
    assert any("pinned CDN" in r.getMessage() for r in caplog.records)
    with pytest.raises(InputError):
        resolve_offline_assets(True)


def test_online_maps_link_only_pinned_versions() -> None:
    ground = synthetic_ground()
    plans = [synthetic_plan(ground), synthetic_plan(ground, strategy="china-pile-swap")]
    page = pin_links(compare_map(plans, None).render())
    links = remote_links(page)
    assert links
    for url in links:
        assert re.search(r"@v?\d+\.\d+\.\d+/|/\d+\.\d+\.\d+/", url), url
        assert "@main" not in url
    versions = {pin.name: pin.version for pin in _npm.PINS if pin.folder == pin.name}
    assert f"leaflet@{versions['leaflet']}/" in " ".join(links)


def test_cached_assets_are_complete() -> None:
    try:
        root = assets.find_assets()
    except InputError as exc:
        pytest.skip(f"asset cache not filled ({exc})")
    for asset in assets.ASSETS:
        for src, _ in ((asset.source, asset.dest), *asset.extras):
            if not src.startswith("folium:"):
                assert (root / src).stat().st_size > 0, src
