"""The transcode engine on real ffmpeg and a real S3 server (moto on loopback)."""
from __future__ import annotations

import io
import json
import subprocess

import pytest
from PIL import Image

from domain.jobs.errors import PermanentError
from domain.video import engine, hls
from domain.video.engine import PLAYLIST_CACHE, SEGMENT_CACHE


def ffprobe_stream(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def test_normal_clip_publishes_a_checked_ladder_and_thumbnails(video_sources, upload, s3, small_config, tmp_path):
    # Given a 2 s 320x180 clip with audio in the bucket
    asset_id, key = upload(video_sources["normal"])
    progress = []
    # When it is transcoded with a 180/120 ladder and 1 s segments
    result = engine.transcode(s3, asset_id, key, small_config, progress=lambda p, m: progress.append(p))
    base = f"videos/{asset_id}/"
    # Then the master playlist lists every rendition with BANDWIDTH, RESOLUTION and CODECS
    variants = hls.parse_master(s3.get_bytes(result["master_key"]).decode())
    assert [v["URI"] for v in variants] == ["180p/index.m3u8", "120p/index.m3u8", "audio/index.m3u8"]
    assert [v.get("RESOLUTION") for v in variants] == ["320x180", "214x120", None]
    assert all(v["CODECS"].startswith("avc1.") and v["CODECS"].endswith(",mp4a.40.2") for v in variants[:2])
    assert variants[2]["CODECS"] == "mp4a.40.2"
    assert all(int(v["BANDWIDTH"]) >= int(v["AVERAGE-BANDWIDTH"]) > 0 for v in variants)
    # And every rendition, fetched back from S3, has the planned size, H.264/yuv420p, audio,
    # segments of the target length, and an average bit rate under its cap
    for r in result["renditions"]:
        folder = tmp_path / r["name"]
        folder.mkdir()
        playlist = s3.get_bytes(r["playlist_key"]).decode()
        target, segments = hls.parse_media(playlist)
        assert target == 1 and len(segments) >= 2
        assert all(abs(s.duration - 1.0) < 0.15 for s in segments[:-1]) and segments[-1].duration <= 1.15
        assert abs(sum(s.duration for s in segments) - 2.0) < 0.2
        (folder / "index.m3u8").write_text(playlist)
        for seg in segments:
            s3.download(f"{base}hls/{r['name']}/{seg.uri}", folder / seg.uri)
        info = ffprobe_stream(folder / "index.m3u8")
        kinds = sorted(s["codec_type"] for s in info["streams"])
        if r["kind"] == "video":
            assert kinds == ["audio", "video"]
            v = next(s for s in info["streams"] if s["codec_type"] == "video")
            assert (v["codec_name"], v["pix_fmt"], v["width"], v["height"]) == ("h264", "yuv420p", r["width"], r["height"])
            assert r["codecs"] == f"{hls.avc1(v['profile'], v['level'])},mp4a.40.2"
            assert r["average_bandwidth"] <= (r["maxrate_kbps"] + 128) * 1000 * 1.25
        else:
            assert kinds == ["audio"]
    # And the objects carry their content types and cache headers
    head = s3.head(f"{base}hls/180p/seg_00000.ts")
    assert (head["content_type"], head["cache_control"]) == ("video/mp2t", SEGMENT_CACHE)
    head = s3.head(result["master_key"])
    assert (head["content_type"], head["cache_control"]) == ("application/vnd.apple.mpegurl", PLAYLIST_CACHE)
    assert s3.head(result["sprite_key"])["content_type"] == "image/jpeg"
    assert s3.head(result["thumbnails_vtt_key"])["content_type"] == "text/vtt"
    # And progress went up to the end
    assert progress == sorted(progress) and progress[-1] >= 99
    # And the sprite WebVTT regions lie inside the sprite image; the poster has the source's size
    sprite = Image.open(io.BytesIO(s3.get_bytes(result["sprite_key"])))
    poster = Image.open(io.BytesIO(s3.get_bytes(result["poster_key"])))
    cues = hls.parse_vtt_regions(s3.get_bytes(result["thumbnails_vtt_key"]).decode())
    assert poster.size == (320, 180)
    assert sprite.size == (result["sprite"]["columns"] * 160, result["sprite"]["rows"] * 90)
    assert len(cues) == 4 and cues[0][0] == 0 and abs(cues[-1][1] - 2.0) < 0.05
    for start, end, uri, (x, y, w, h) in cues:
        assert uri == "sprite.jpg" and start < end
        assert 0 <= x and 0 <= y and x + w <= sprite.size[0] and y + h <= sprite.size[1]
        tile = sprite.convert("L").crop((x, y, x + w, y + h)).resize((1, 1), Image.Resampling.BOX)
        assert tile.getpixel((0, 0)) > 40, "a cue points at an empty (black) tile"


@pytest.mark.parametrize("name,sizes,audio", [
    ("no_audio", [(320, 180), (214, 120)], False),
    ("rotated", [(180, 320), (120, 214)], True),
    ("portrait", [(180, 320), (120, 214)], True),
    ("odd", [(320, 180), (212, 120)], True),
    ("ten_bit", [(320, 180), (214, 120)], True),
    ("yuv444", [(320, 180), (214, 120)], True),
    ("vfr", [(320, 180), (214, 120)], True),
])
def test_awkward_sources_become_even_yuv420p_renditions(name, sizes, audio, video_sources, upload, s3, small_config):
    asset_id, key = upload(video_sources[name])
    result = engine.transcode(s3, asset_id, key, small_config)
    videos = [r for r in result["renditions"] if r["kind"] == "video"]
    assert [(r["width"], r["height"]) for r in videos] == sizes
    assert all(r["width"] % 2 == 0 and r["height"] % 2 == 0 for r in videos)
    assert any(r["kind"] == "audio" for r in result["renditions"]) == audio
    assert all(("mp4a.40.2" in r["codecs"]) == audio for r in videos)
    variants = hls.parse_master(s3.get_bytes(result["master_key"]).decode())
    assert [v.get("RESOLUTION") for v in variants[:2]] == [f"{w}x{h}" for w, h in sizes]


@pytest.mark.parametrize("name,code", [("corrupt", "corrupt_source"), ("not_video", "corrupt_source")])
def test_bad_sources_fail_permanently_and_publish_nothing(name, code, video_sources, upload, s3, small_config):
    asset_id, key = upload(video_sources[name])
    with pytest.raises(PermanentError) as err:
        engine.transcode(s3, asset_id, key, small_config)
    assert err.value.code == code
    assert s3.list(f"videos/{asset_id}/") == [key]


def test_limits_and_a_missing_source_are_permanent(video_sources, upload, s3, small_config):
    asset_id, key = upload(video_sources["normal"])
    for cfg, code in [(engine.Config(**{**small_config.__dict__, "max_duration": 1.0}), "too_long"),
                      (engine.Config(**{**small_config.__dict__, "max_bytes": 1000}), "too_large")]:
        with pytest.raises(PermanentError) as err:
            engine.transcode(s3, asset_id, key, cfg)
        assert err.value.code == code
    with pytest.raises(PermanentError) as err:
        engine.transcode(s3, "nothing", "videos/nothing/source/x.mp4", small_config)
    assert err.value.code == "source_missing"


def test_a_rerun_overwrites_the_same_keys_and_drops_what_it_no_longer_makes(video_sources, upload, s3, small_config):
    # Given an asset transcoded with a two-rung ladder
    asset_id, key = upload(video_sources["normal"])
    first = engine.transcode(s3, asset_id, key, small_config)
    keys_first = set(s3.list(f"videos/{asset_id}/"))
    # When it is transcoded again with one rung
    again = engine.transcode(s3, asset_id, key, engine.Config(**{**small_config.__dict__, "rungs": [180]}))
    # Then the 120p files are gone and nothing is duplicated
    keys = set(s3.list(f"videos/{asset_id}/"))
    assert not any("/120p/" in k for k in keys)
    assert keys < keys_first and again["master_key"] == first["master_key"]
    assert [v["URI"] for v in hls.parse_master(s3.get_bytes(first["master_key"]).decode())] == [
        "180p/index.m3u8", "audio/index.m3u8"]
