"""Pure parts of the CMAF packaging and odd-source handling: sprite bounds, probe facts, MPD
timelines, playback tokens."""
from fractions import Fraction
from xml.etree import ElementTree as ET

import pytest

from domain.video import commands, dash, playback, probe


def info(**kw) -> probe.MediaInfo:
    base = dict(duration=1800.0, width=1080, height=1920, coded_width=1080, coded_height=1920, rotation=0, fps=30.0,
                pix_fmt="yuv420p", video_codec="h264", has_audio=True, audio_codec="aac", bit_rate=None,
                format_name="mov", size_bytes=None, raw={}, video_duration=1800.0)
    return probe.MediaInfo(**{**base, **kw})


def test_a_long_portrait_sprite_is_split_into_sheets_within_jpeg_and_webp_limits():
    # 30 minutes of portrait video, a tile every 0.5 s: one sheet would be 1600 x 102,000 px
    grid = commands.sprite_grid(info(), 0.5)
    assert grid.count == 3600 and grid.sheets > 1
    assert grid.width <= commands.SPRITE_MAX_SIDE and grid.height <= commands.SPRITE_MAX_SIDE
    assert grid.height <= 16383 and grid.per_sheet * grid.sheets >= grid.count
    last = grid.place(grid.count - 1)
    assert last[0] == grid.sheets - 1 and last[2] + grid.tile_height <= grid.height


def test_no_tile_after_the_last_frame():
    # 2.004 s long (sound), picture to 2.0 s at 25 fps: the last frame starts at 1.96 s
    grid = commands.sprite_grid(info(duration=2.004, video_duration=2.0, fps=25.0, width=320, height=180), 0.5)
    assert grid.count == 4


def test_probe_reads_display_shape_interlacing_and_duration_from_picture_and_sound():
    data = {"format": {"format_name": "mov,mp4", "duration": "9.0"}, "streams": [
        {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 720, "height": 576,
         "sample_aspect_ratio": "64:45", "field_order": "tt", "avg_frame_rate": "25/1", "r_frame_rate": "50/1",
         "duration": "2.0"},
        {"index": 1, "codec_type": "audio", "codec_name": "aac", "duration": "2.02"},
        {"index": 2, "codec_type": "subtitle", "codec_name": "mov_text", "duration": "9.0"}]}
    got = probe.parse(data)
    assert (got.width, got.height, got.sar) == (1024, 576, Fraction(64, 45))
    assert got.interlaced and got.duration == 2.02 and got.max_fps == 50


def test_mpd_timeline_repeats_equal_segments_and_states_the_cmaf_profile():
    rep = dash.Representation(id="720p", kind="video", bandwidth=3_000_001, codecs="avc1.64001f", timescale=12800,
                              timeline=[(0, 76800), (76800, 76800), (153600, 25600)], init="720p/init.mp4",
                              media="720p/seg_$Number%05d$.m4s", width=1280, height=720, frame_rate=30000 / 1001)
    root = ET.fromstring(dash.mpd([rep], 14.0, 6.0))
    ns = {"d": dash.NS}
    assert root.get("type") == "static" and "cmaf:2019" in root.get("profiles")
    assert root.get("mediaPresentationDuration") == "PT14.000S"
    assert [(s.get("t"), s.get("d"), s.get("r")) for s in root.iterfind(".//d:S", ns)] == [
        ("0", "76800", "1"), ("153600", "25600", None)]
    assert root.find(".//d:Representation", ns).get("frameRate") == "30000/1001"


def test_playback_tokens_bind_learner_lesson_version_and_expiry():
    key = playback.keys("secret")
    claims = playback.Claims("asset", 3, "learner-7", "lesson-1", 2_000)
    token = playback.mint(key, claims)
    assert playback.verify(key, token, now=1_000) == claims
    with pytest.raises(playback.InvalidToken):
        playback.verify(key, token, now=2_001)                      # expired
    with pytest.raises(playback.InvalidToken):
        playback.verify(playback.keys("other"), token, now=1_000)
    body, sig = token.split(".")
    forged = playback.mint(playback.keys("x"), playback.Claims("asset", 3, "learner-8", "lesson-1", 2_000)).split(".")[0]
    with pytest.raises(playback.InvalidToken):
        playback.verify(key, f"{forged}.{sig}", now=1_000)
    for path in ("cmaf/master.m3u8", "cmaf/720p/seg_00001.m4s", "thumbs/sprite_000.jpg"):
        assert playback.check_path(path) == path
    for path in ("../source/a.mp4", "cmaf/../../x.m3u8", "source/a.mp4", "cmaf/a/b/c.m4s"):
        with pytest.raises(playback.InvalidToken):
            playback.check_path(path)


def test_progress_is_passed_on_when_the_whole_percentage_moves():
    from domain.video.engine import whole_percents

    seen = []
    report = whole_percents(lambda p, m: seen.append(p))
    for p in (2, 5, 5.2, 5.9, 6.1, 6.5, 80, 79, 99.5):
        report(p, "")
    assert seen == [2, 5, 6.1, 80, 99.5]
