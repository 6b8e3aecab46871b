"""Odd sources made with lavfi, each transcoded for real and checked with an outside reader
(ffprobe frames and timestamps, ffmpeg's idet, Pillow)."""
from __future__ import annotations

import io
import json
import subprocess

import m3u8
import pytest
from PIL import Image

from domain.jobs.errors import PermanentError
from domain.video import engine, hls
from tests.integration.video.conftest import version
from tests.support.control import RecordingControl


def frames(path, *entries: str, vf: str | None = None) -> list[dict]:
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
            "frame=" + ",".join(entries), "-of", "json", str(path)]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout)["frames"]


def idet(path) -> dict[str, int]:
    """ffmpeg's interlace detector over the whole file: counts of tff / bff / progressive frames."""
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-vf", "idet", "-an", "-f", "null",
                          "-"], capture_output=True, text=True, timeout=120).stderr
    line = next(ln for ln in err.splitlines() if "Multi frame detection" in ln)
    parts = line.split("detection:")[1].split()
    return {parts[i].rstrip(":").lower(): int(parts[i + 1]) for i in range(0, len(parts) - 1, 2)}


def transcode(s3, upload, path, cfg):
    asset_id, key = upload(path)
    return asset_id, engine.transcode(s3, asset_id, key, cfg, prefix=version(asset_id))


def local(s3, key, tmp_path):
    folder = tmp_path / key.rsplit("/", 2)[-2]
    prefix = key.rsplit("/", 1)[0] + "/"
    folder.mkdir(exist_ok=True)
    for k in s3.list(prefix):
        s3.download(k, folder / k[len(prefix):])
    return folder / key.rsplit("/", 1)[1]


def test_anamorphic_source_keeps_its_display_shape(odd_sources, upload, s3, small_config, tmp_path):
    # Given 360x288 coded pixels that are 64:45 wide (shown 512x288, 16:9)
    asset_id, result = transcode(s3, upload, odd_sources["anamorphic"], small_config)
    # Then the renditions are 16:9 with square pixels, and so are the poster and the sprite tiles
    assert (result["width"], result["height"]) == (512, 288)
    videos = [r for r in result["renditions"] if r["kind"] == "video"]
    assert [(r["width"], r["height"]) for r in videos] == [(320, 180), (214, 120)]
    for r in videos:
        v = frames(local(s3, r["playlist_key"], tmp_path), "width", "height", "sample_aspect_ratio")[0]
        assert (v["width"], v["height"]) == (r["width"], r["height"]) and v.get("sample_aspect_ratio", "1:1") == "1:1"
    poster = Image.open(io.BytesIO(s3.get_bytes(result["poster_key"])))
    assert poster.size == (512, 288)
    assert (result["sprite"]["tile_width"], result["sprite"]["tile_height"]) == (160, 90)


def test_interlaced_source_is_detected_and_deinterlaced(odd_sources, upload, s3, small_config, tmp_path):
    # Given a source woven from 50 fields/s and flagged top field first; idet agrees it is interlaced
    before = idet(odd_sources["interlaced"])
    assert before["tff"] > before["progressive"], before
    # When it is transcoded
    _, result = transcode(s3, upload, odd_sources["interlaced"], small_config)
    assert result["source"]["interlaced"] is True
    # Then the top rendition is progressive, by its flags and to idet's eye
    top = local(s3, result["renditions"][0]["playlist_key"], tmp_path)
    after = idet(top)
    assert after["progressive"] > 5 * (after["tff"] + after["bff"]), after


def test_variable_frame_rate_keeps_the_source_timing(odd_sources, upload, s3, small_config, tmp_path):
    # Given 1 s at 20 fps then 1 s at 15 fps
    src = [float(f["pts_time"]) for f in frames(odd_sources["vfr_steps"], "pts_time")]
    assert len(src) == 35
    # When it is transcoded
    _, result = transcode(s3, upload, odd_sources["vfr_steps"], small_config)
    # Then every rendition has the same frames at the same times (no frame dropped or repeated)
    for r in (r for r in result["renditions"] if r["kind"] == "video"):
        out = [float(f["pts_time"]) for f in frames(local(s3, r["playlist_key"], tmp_path), "pts_time")]
        assert len(out) == len(src)
        assert max(abs((a - out[0]) - (b - src[0])) for a, b in zip(out, src)) < 0.002
    # And the manifests declare the fastest rate
    assert m3u8.loads(s3.get_bytes(result["master_key"]).decode()).playlists[0].stream_info.frame_rate == 20


def test_duration_comes_from_picture_and_sound_not_a_longer_subtitle_track(odd_sources, upload, s3, small_config):
    _, result = transcode(s3, upload, odd_sources["long_subtitles"], small_config)
    assert abs(result["duration"] - 2.0) < 0.1


def test_truncated_upload_is_refused_before_encoding_with_what_is_wrong(odd_sources, upload, s3, small_config):
    asset_id, key = upload(odd_sources["truncated"])
    control = RecordingControl()
    with pytest.raises(PermanentError) as err:
        engine.transcode(s3, asset_id, key, small_config, prefix=version(asset_id), control=control)
    assert err.value.code == "corrupt_source"
    assert "announces 4.00 s of video" in err.value.message and "cut short" in err.value.message
    assert control.messages == ["downloaded the source"]          # refused before any encoding
    assert s3.list(f"videos/{asset_id}/") == [key]


def test_last_cue_is_on_a_real_frame_when_the_sound_runs_past_the_picture(odd_sources, upload, s3, small_config):
    # Given 2.000 s of picture (last frame at 1.96 s) and 2.012 s of sound, tiles every 0.5 s
    _, result = transcode(s3, upload, odd_sources["audio_tail"], small_config)
    cues = hls.parse_vtt_regions(s3.get_bytes(result["thumbnails_vtt_key"]).decode())
    sheet = Image.open(io.BytesIO(s3.get_bytes(result["sprite_key"]))).convert("L")
    # Then there is no tile at 2.0 s; the last cue starts on a frame and runs to the end
    assert [c[0] for c in cues] == [0.0, 0.5, 1.0, 1.5] and abs(cues[-1][1] - result["duration"]) < 0.001
    for _, _, _, (x, y, w, h) in cues:
        assert sheet.crop((x, y, x + w, y + h)).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0)) > 40


def test_sprite_is_split_into_sheets_when_one_would_be_too_large(video_sources, upload, s3, small_config):
    # Given sheets limited to 200 px a side (1 column x 2 rows of 160x90 tiles) and 4 tiles
    cfg = engine.Config(**{**small_config.__dict__, "sprite_max_side": 200})
    _, result = transcode(s3, upload, video_sources["normal"], cfg)
    # Then there are two sheets, each within the limit, and the cues point into both
    assert result["sprite"]["sheets"] == 2 and len(result["sprite_keys"]) == 2
    for key in result["sprite_keys"]:
        assert max(Image.open(io.BytesIO(s3.get_bytes(key))).size) <= 200
    cues = hls.parse_vtt_regions(s3.get_bytes(result["thumbnails_vtt_key"]).decode())
    assert [(c[2], c[3][:2]) for c in cues] == [("sprite_000.jpg", (0, 0)), ("sprite_000.jpg", (0, 90)),
                                                ("sprite_001.jpg", (0, 0)), ("sprite_001.jpg", (0, 90))]
