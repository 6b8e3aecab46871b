"""Master playlist, media playlist parsing, codec strings, sprite WebVTT, ffmpeg progress blocks."""
from domain.video import hls
from domain.video.commands import SpriteGrid
from domain.video.process import _Tail, out_time_seconds, parse_progress_block


def test_master_playlist_is_version_7_with_audio_group_and_iframe_streams():
    import m3u8

    text = hls.master_playlist([
        hls.Variant("720p/index.m3u8", 3_100_000, 2_500_000, "avc1.64001f,mp4a.40.2", (1280, 720), 30.0,
                    audio_group="audio", iframe_uri="720p/iframes.m3u8", iframe_bandwidth=300_000,
                    iframe_average_bandwidth=200_000, video_codecs="avc1.64001f"),
    ], hls.AudioRendition("audio/index.m3u8"))
    master = m3u8.loads(text)
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")
    p = master.playlists[0]
    assert (p.uri, p.stream_info.bandwidth, p.stream_info.average_bandwidth, p.stream_info.codecs,
            p.stream_info.resolution, p.stream_info.frame_rate, p.stream_info.audio) == (
        "720p/index.m3u8", 3_100_000, 2_500_000, "avc1.64001f,mp4a.40.2", (1280, 720), 30.0, "audio")
    assert [(m.type, m.group_id, m.uri, m.default) for m in master.media] == [("AUDIO", "audio", "audio/index.m3u8",
                                                                              "YES")]
    i = master.iframe_playlists[0]
    assert (i.uri, i.iframe_stream_info.bandwidth, i.iframe_stream_info.codecs) == (
        "720p/iframes.m3u8", 300_000, "avc1.64001f")


def test_iframe_playlist_lists_byte_ranges_under_the_init_segment():
    import m3u8

    text = hls.iframe_playlist([hls.IFrame("seg_00000.m4s", 76, 5000, 6.0), hls.IFrame("seg_00001.m4s", 76, 4000, 2.5)],
                               "init.mp4")
    pl = m3u8.loads(text)
    assert pl.is_i_frames_only and pl.segment_map[0].uri == "init.mp4" and pl.is_endlist
    assert [(s.uri, s.byterange, s.duration) for s in pl.segments] == [
        ("seg_00000.m4s", "5000@76", 6.0), ("seg_00001.m4s", "4000@76", 2.5)]


def test_media_playlist_parse():
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\na.ts\n#EXTINF:2.5,\nb.ts\n#EXT-X-ENDLIST\n"
    target, segs = hls.parse_media(text)
    assert target == 6 and [(s.uri, s.duration) for s in segs] == [("a.ts", 6.0), ("b.ts", 2.5)]


def test_avc1_codec_strings():
    assert hls.avc1("High", 31) == "avc1.64001f"
    assert hls.avc1("Main", 30) == "avc1.4d001e"
    assert hls.avc1("Constrained Baseline", 30) == "avc1.42e01e"


def test_sprite_vtt_cues_cover_the_duration_inside_the_sheets():
    grid = SpriteGrid(count=7, columns=3, rows=2, tile_width=160, tile_height=90, interval=10)
    cues = hls.parse_vtt_regions(hls.sprite_vtt(grid, 65.0))
    assert len(cues) == 7 and grid.sheets == 2
    assert cues[0][:2] == (0.0, 10.0) and cues[-1][:2] == (60.0, 65.0)
    assert cues[4][2:] == ("sprite_000.jpg", (160, 90, 160, 90)) and cues[6][2:] == ("sprite_001.jpg", (0, 0, 160, 90))
    for _, _, uri, (x, y, w, h) in cues:
        assert x + w <= grid.width and y + h <= grid.height


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
