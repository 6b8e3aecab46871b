"""Master playlist, media playlist parsing, codec strings, sprite WebVTT, ffmpeg progress blocks."""
from domain.video import hls
from domain.video.commands import SpriteGrid
from domain.video.process import _Tail, out_time_seconds, parse_progress_block


def test_master_playlist_round_trips_with_bandwidth_resolution_codecs():
    text = hls.master_playlist([
        hls.Variant("720p/index.m3u8", 3_100_000, 2_500_000, "avc1.64001f,mp4a.40.2", (1280, 720), 30.0),
        hls.Variant("audio/index.m3u8", 70_000, 66_000, "mp4a.40.2"),
    ])
    variants = hls.parse_master(text)
    assert text.startswith("#EXTM3U\n")
    assert variants[0] == {"BANDWIDTH": "3100000", "AVERAGE-BANDWIDTH": "2500000", "CODECS": "avc1.64001f,mp4a.40.2",
                           "RESOLUTION": "1280x720", "FRAME-RATE": "30.000", "URI": "720p/index.m3u8"}
    assert "RESOLUTION" not in variants[1] and variants[1]["CODECS"] == "mp4a.40.2"


def test_media_playlist_parse():
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\na.ts\n#EXTINF:2.5,\nb.ts\n#EXT-X-ENDLIST\n"
    target, segs = hls.parse_media(text)
    assert target == 6 and [(s.uri, s.duration) for s in segs] == [("a.ts", 6.0), ("b.ts", 2.5)]


def test_measure_reports_peak_and_average(tmp_path):
    (tmp_path / "a.ts").write_bytes(b"x" * 1000)
    (tmp_path / "b.ts").write_bytes(b"x" * 3000)
    (tmp_path / "i.m3u8").write_text("#EXTM3U\n#EXTINF:1.0,\na.ts\n#EXTINF:1.0,\nb.ts\n#EXT-X-ENDLIST\n")
    peak, average, seconds, segs = hls.measure(tmp_path / "i.m3u8")
    assert (peak, average, seconds, len(segs)) == (24000, 16000, 2.0, 2)


def test_avc1_codec_strings():
    assert hls.avc1("High", 31) == "avc1.64001f"
    assert hls.avc1("Main", 30) == "avc1.4d001e"
    assert hls.avc1("Constrained Baseline", 30) == "avc1.42e01e"


def test_sprite_vtt_cues_cover_the_duration_inside_the_sheet():
    grid = SpriteGrid(count=7, columns=3, rows=3, tile_width=160, tile_height=90, interval=10)
    cues = hls.parse_vtt_regions(hls.sprite_vtt(grid, 65.0, "sprite.jpg"))
    assert len(cues) == 7
    assert cues[0][:2] == (0.0, 10.0) and cues[-1][:2] == (60.0, 65.0)
    assert cues[4][3] == (160, 90, 160, 90)
    for _, _, uri, (x, y, w, h) in cues:
        assert uri == "sprite.jpg" and x + w <= grid.width and y + h <= grid.height


def test_progress_block_and_out_time():
    block = parse_progress_block(["frame=10", "out_time_us=2500000", "out_time=00:00:02.5", "progress=continue"])
    assert out_time_seconds(block) == 2.5
    assert out_time_seconds({"out_time_us": "N/A"}) is None


def test_stderr_tail_keeps_only_the_end():
    tail = _Tail(limit=100)
    for i in range(1000):
        tail.add(f"line {i}\n".encode())
    text = tail.text()
    assert text.endswith("line 999\n") and len(text) <= 100 and "line 5\n" not in text
