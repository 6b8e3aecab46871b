"""The ladder planner: default rungs, no upscaling, even sizes, aspect ratio, portrait."""
import pytest

from domain.video.ladder import even, gop_frames, output_fps, plan

DEFAULT = [1080, 720, 480, 360]


def sizes(renditions):
    return [(r.name, r.width, r.height) for r in renditions]


def test_1080p_source_gets_the_whole_default_ladder():
    assert sizes(plan(1920, 1080, 30, DEFAULT)) == [
        ("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)]


def test_never_upscales_a_720p_source():
    got = plan(1280, 720, 30, DEFAULT)
    assert [r.name for r in got] == ["720p", "480p", "360p"]
    assert all(r.width <= 1280 and r.height <= 720 for r in got)


def test_source_smaller_than_every_rung_gets_its_own_size():
    assert sizes(plan(320, 180, 25, DEFAULT)) == [("180p", 320, 180)]


def test_portrait_rungs_follow_the_short_side():
    assert sizes(plan(1080, 1920, 30, DEFAULT))[:2] == [("1080p", 1080, 1920), ("720p", 720, 1280)]


@pytest.mark.parametrize("w,h", [(321, 181), (1919, 1079), (999, 555), (180, 321), (1440, 1080), (3840, 1600)])
def test_sizes_are_even_keep_the_aspect_ratio_and_never_exceed_the_source(w, h):
    for r in plan(w, h, 30, DEFAULT + [240]):
        assert r.width % 2 == 0 and r.height % 2 == 0
        assert r.width <= w and r.height <= h
        assert abs(r.width / r.height - w / h) < 0.02, (r, w, h)


def test_bitrates_fall_with_the_rung_and_cap_above_the_target():
    got = plan(1920, 1080, 30, DEFAULT)
    rates = [r.video_kbps for r in got]
    assert rates == sorted(rates, reverse=True) and rates[0] == 5000
    assert all(r.video_kbps < r.maxrate_kbps < r.bufsize_kbps for r in got)


def test_high_frame_rate_gets_more_bits():
    assert plan(1280, 720, 60, [720])[0].video_kbps > plan(1280, 720, 30, [720])[0].video_kbps


def test_duplicate_rungs_collapse():
    assert len(plan(640, 360, 25, [360, 360, 1080])) == 1


def test_even_and_rates():
    assert [even(x) for x in (1, 2, 3, 179.5, 181)] == [2, 2, 4, 180, 182]
    assert output_fps(29.97002997) == 29.97 and output_fps(120) == 60 and output_fps(0) == 25
    assert gop_frames(25, 6) == 50 and gop_frames(30, 1) == 30


def test_a_source_with_no_size_is_refused():
    with pytest.raises(ValueError):
        plan(0, 0, 25, DEFAULT)
