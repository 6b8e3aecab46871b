"""hls.js and dash.js play the outputs in Debian's headless Chromium, served on loopback.

Chromium here (Debian's build) decodes H.264 and AAC, which is what the ladder is made of; it
lacks HEVC, AC-3 and E-AC-3 (the page reports MediaSource.isTypeSupported for each, and the
test records it), none of which the ladder uses.
"""
from __future__ import annotations

import json

import pytest

from domain.storage import LocalStorage
from domain.video import engine
from tests.integration.video import players
from tests.integration.video.conftest import version

pytestmark = pytest.mark.skipif(players.missing() is not None, reason=players.missing() or "")


@pytest.fixture(scope="module")
def published(tmp_path_factory, video_sources, odd_sources):
    """Two clips transcoded into a local storage folder: a normal one and an anamorphic one."""
    root = tmp_path_factory.mktemp("players")
    storage = LocalStorage(root / "storage")
    cfg = engine.Config(rungs=[180, 120], segment_seconds=1.0, thumbnail_interval=1.0, preset="ultrafast",
                        tmp_dir=str(root / "work"))
    out = {}
    for name, path in (("normal", video_sources["normal"]), ("anamorphic", odd_sources["anamorphic"])):
        key = f"videos/{name}/source/{path.name}"
        storage.put_file(key, path)
        out[name] = engine.transcode(storage, name, key, cfg, prefix=version(name))
    return root / "storage", out


@pytest.mark.parametrize("player,manifest", [("hls", "master_key"), ("dash", "mpd_key")])
def test_player_starts_switches_rendition_and_plays_to_the_end(published, player, manifest, record_property):
    # Given the outputs served on loopback beside the player page
    media, results = published
    result = results["normal"]
    with players.serve(media) as base:
        # When the player loads the manifest, starts, and is asked for the other rendition
        r = players.play(base, player, f"/media/{result[manifest]}")
    record_property("codec_support", r["codecSupport"])
    # Then Chromium can decode what the ladder is made of (H.264 + AAC-LC)
    assert r["codecSupport"]["avc1.640028"] and r["codecSupport"]["mp4a.40.2"], r["codecSupport"]
    # And playback started, switched to the rendition asked for, and reached the end with no error
    assert r["errors"] == [] and not r["timedOut"], json.dumps(r)
    assert r["started"] and r["ended"], json.dumps(r)
    assert abs(r["currentTime"] - result["duration"]) < 0.2, r
    assert r["switchAsked"] is not None and r["switchedTo"] == r["switchAsked"] and r.get("switchRendered"), r
    # And the player saw the renditions the manifest declares
    assert sorted((lv["width"], lv["height"]) for lv in r["levels"]) == [(214, 120), (320, 180)]


@pytest.mark.parametrize("player,manifest", [("hls", "master_key"), ("dash", "mpd_key")])
def test_anamorphic_clip_plays_at_its_display_shape(published, player, manifest):
    media, results = published
    with players.serve(media) as base:
        r = players.play(base, player, f"/media/{results['anamorphic'][manifest]}", switch=False)
    assert r["errors"] == [] and r["ended"], json.dumps(r)
    assert sorted((lv["width"], lv["height"]) for lv in r["levels"]) == [(214, 120), (320, 180)]
