"""The transcode engine on real ffmpeg and a real S3 server (moto on loopback): CMAF segments,
HLS and DASH manifests checked against the files with outside readers (m3u8, ffprobe)."""
from __future__ import annotations

import io
import json
import math
import subprocess
from xml.etree import ElementTree as ET

import m3u8
import pytest
from PIL import Image

from domain.jobs.errors import PermanentError
from domain.video import engine, hls
from domain.video.engine import PLAYLIST_CACHE, SEGMENT_CACHE
from tests.integration.video.conftest import version
from tests.support.control import RecordingControl

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def ffprobe(path, *extra) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
                          *extra, str(path)], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def fetch_tree(s3, prefix: str, folder) -> None:
    for key in s3.list(prefix):
        path = folder / key[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download(key, path)


def test_normal_clip_publishes_cmaf_with_hls_and_dash_manifests(video_sources, upload, s3, small_config, tmp_path):
    # Given a 2 s 320x180 clip with audio in the bucket
    asset_id, key = upload(video_sources["normal"])
    control = RecordingControl()
    # When it is transcoded with a 180/120 ladder and 1 s segments
    result = engine.transcode(s3, asset_id, key, small_config, prefix=version(asset_id), control=control)
    fetch_tree(s3, version(asset_id), tmp_path)
    cmaf = tmp_path / "cmaf"
    # Then the master playlist (read by the m3u8 library) is version 7 with an audio group,
    # variants of the right resolution, frame rate and codecs, and I-frame streams
    text = (cmaf / "master.m3u8").read_text()
    master = m3u8.loads(text)
    assert "#EXT-X-VERSION:7" in text and master.is_variant
    assert [p.uri for p in master.playlists] == ["180p/index.m3u8", "120p/index.m3u8"]
    assert [p.stream_info.resolution for p in master.playlists] == [(320, 180), (214, 120)]
    assert all(p.stream_info.frame_rate == 25 and p.stream_info.audio == "audio" for p in master.playlists)
    assert [(m.type, m.uri) for m in master.media] == [("AUDIO", "audio/index.m3u8")]
    assert [p.uri for p in master.iframe_playlists] == ["180p/iframes.m3u8", "120p/iframes.m3u8"]
    by_name = {r["name"]: r for r in result["renditions"]}
    audio_bits = [(cmaf / "audio" / s.uri).stat().st_size * 8 for s in m3u8.load(str(cmaf / "audio/index.m3u8")).segments]
    for p in master.playlists:
        r = by_name[p.uri.split("/")[0]]
        media = m3u8.load(str(cmaf / p.uri))
        # media playlists: fMP4 with EXT-X-MAP, 1 s segments
        assert media.segment_map and media.segment_map[0].uri == "init.mp4" and media.target_duration == 1
        assert all(s.uri.endswith(".m4s") for s in media.segments)
        # BANDWIDTH: at least every segment's rate (video + the audio playing beside it), rounded up
        sizes = [(cmaf / r["name"] / s.uri).stat().st_size * 8 for s in media.segments]
        rates = [math.ceil(b / s.duration) for b, s in zip(sizes, media.segments) if s.duration >= 0.5]
        assert p.stream_info.bandwidth >= max(rates) + max(audio_bits) / 1.1
        assert p.stream_info.average_bandwidth == r["average_bandwidth"] + by_name["audio"]["average_bandwidth"]
        # the codec string is RFC 6381's: profile, constraint flags and level from the init segment's avcC
        init = (cmaf / r["name"] / "init.mp4").read_bytes()
        at = init.index(b"avcC") + 5
        assert p.stream_info.codecs == f"avc1.{init[at:at + 3].hex()},mp4a.40.2" == f"{r['codecs']},mp4a.40.2"
        # every I-frame byte range, with the init segment, decodes to one keyframe
        iframes = m3u8.load(str(cmaf / r["name"] / "iframes.m3u8"))
        assert iframes.is_i_frames_only and len(iframes.segments) == len(media.segments)
        for seg in iframes.segments:
            length, offset = (int(x) for x in seg.byterange.split("@"))
            data = (cmaf / r["name"] / seg.uri).read_bytes()[offset:offset + length]
            probe_file = tmp_path / "iframe.mp4"
            probe_file.write_bytes((cmaf / r["name"] / "init.mp4").read_bytes() + data)
            frames = ffprobe(probe_file, "-show_frames")["frames"]
            assert [(f["key_frame"], f["pict_type"]) for f in frames] == [(1, "I")]
    # And the MPD lists the same segments: static, CMAF profile, the same bandwidths, codecs, sizes
    mpd = ET.parse(cmaf / "manifest.mpd").getroot()
    assert mpd.get("type") == "static" and "urn:mpeg:dash:profile:cmaf:2019" in mpd.get("profiles")
    reps = {r.get("id"): r for r in mpd.iterfind(".//d:Representation", NS)}
    assert set(reps) == {"180p", "120p", "audio"}
    for name, rep in reps.items():
        r = by_name[name]
        assert (int(rep.get("bandwidth")), rep.get("codecs")) == (r["bandwidth"], r["codecs"])
        if r["kind"] == "video":
            assert (int(rep.get("width")), int(rep.get("height")), rep.get("frameRate")) == (r["width"], r["height"], "25")
        tmpl = rep.find("d:SegmentTemplate", NS)
        total = sum(int(s.get("d")) * (1 + int(s.get("r", 0))) for s in tmpl.iterfind(".//d:S", NS))
        listed = m3u8.load(str(cmaf / name / "index.m3u8")).segments
        assert abs(total / int(tmpl.get("timescale")) - sum(s.duration for s in listed)) < 0.01
        count = sum(1 + int(s.get("r", 0)) for s in tmpl.iterfind(".//d:S", NS))
        assert [tmpl.get("media").replace("$Number%05d$", f"{i:05d}") for i in range(count)] == [
            f"{name}/{s.uri}" for s in listed]
    # And every object carries its content type and cache header
    base = version(asset_id)
    head = s3.head(f"{base}cmaf/180p/seg_00000.m4s")
    assert (head["content_type"], head["cache_control"]) == ("video/iso.segment", SEGMENT_CACHE)
    for k, ctype in ((result["master_key"], "application/vnd.apple.mpegurl"),
                     (result["mpd_key"], "application/dash+xml")):
        assert (s3.head(k)["content_type"], s3.head(k)["cache_control"]) == (ctype, PLAYLIST_CACHE)
    assert s3.head(result["sprite_key"])["content_type"] == "image/jpeg"
    assert s3.head(result["thumbnails_vtt_key"])["content_type"] == "text/vtt"
    progress = [p for p, _ in control.reports]
    assert progress == sorted(progress) and progress[-1] >= 99
    # And the sprite WebVTT regions lie inside the sheet, none of them black; the poster has the source's size
    sprite = Image.open(io.BytesIO(s3.get_bytes(result["sprite_key"])))
    poster = Image.open(io.BytesIO(s3.get_bytes(result["poster_key"])))
    cues = hls.parse_vtt_regions(s3.get_bytes(result["thumbnails_vtt_key"]).decode())
    assert poster.size == (320, 180)
    assert len(cues) == 4 and cues[0][0] == 0 and abs(cues[-1][1] - 2.0) < 0.05
    for start, end, uri, (x, y, w, h) in cues:
        assert uri == "sprite_000.jpg" and start < end
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
    result = engine.transcode(s3, asset_id, key, small_config, prefix=version(asset_id))
    videos = [r for r in result["renditions"] if r["kind"] == "video"]
    assert [(r["width"], r["height"]) for r in videos] == sizes
    assert any(r["kind"] == "audio" for r in result["renditions"]) == audio
    master = m3u8.loads(s3.get_bytes(result["master_key"]).decode())
    assert [p.stream_info.resolution for p in master.playlists] == sizes
    assert all(("mp4a.40.2" in p.stream_info.codecs) == audio for p in master.playlists)


@pytest.mark.parametrize("name,code", [("corrupt", "corrupt_source"), ("not_video", "corrupt_source")])
def test_bad_sources_fail_permanently_and_publish_nothing(name, code, video_sources, upload, s3, small_config):
    asset_id, key = upload(video_sources[name])
    with pytest.raises(PermanentError) as err:
        engine.transcode(s3, asset_id, key, small_config, prefix=version(asset_id))
    assert err.value.code == code
    assert s3.list(f"videos/{asset_id}/") == [key]


def test_limits_and_a_missing_source_are_permanent(video_sources, upload, s3, small_config):
    asset_id, key = upload(video_sources["normal"])
    for cfg, code in [(engine.Config(**{**small_config.__dict__, "max_duration": 1.0}), "too_long"),
                      (engine.Config(**{**small_config.__dict__, "max_bytes": 1000}), "too_large")]:
        with pytest.raises(PermanentError) as err:
            engine.transcode(s3, asset_id, key, cfg, prefix=version(asset_id))
        assert err.value.code == code
    with pytest.raises(PermanentError) as err:
        engine.transcode(s3, "nothing", "videos/nothing/source/x.mp4", small_config, prefix=version("nothing"))
    assert err.value.code == "source_missing"


def test_a_second_version_writes_new_keys_and_leaves_the_first_untouched(video_sources, upload, s3, small_config):
    # Given an asset transcoded once (version 1)
    asset_id, key = upload(video_sources["normal"])
    first = engine.transcode(s3, asset_id, key, small_config, prefix=version(asset_id, 1))
    before = {k: s3.get_bytes(k) for k in s3.list(version(asset_id, 1))}
    # When it is transcoded again with another ladder (version 2)
    again = engine.transcode(s3, asset_id, key, engine.Config(**{**small_config.__dict__, "rungs": [180]}),
                             prefix=version(asset_id, 2))
    # Then version 1's objects are byte for byte what they were, and version 2 has its own keys
    assert {k: s3.get_bytes(k) for k in s3.list(version(asset_id, 1))} == before
    assert again["master_key"] != first["master_key"] and again["master_key"].startswith(version(asset_id, 2))
    assert [p.uri for p in m3u8.loads(s3.get_bytes(again["master_key"]).decode()).playlists] == ["180p/index.m3u8"]
