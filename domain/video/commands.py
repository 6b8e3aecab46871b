"""The ffmpeg command lines, built with ffmpeg-python. The benchmark runs these same argv lists."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from domain.video import ladder
from domain.video.ladder import AUDIO_KBPS, Rendition, even
from domain.video.probe import MediaInfo

AUDIO_NAME = "audio"
INIT = "init.mp4"
SEGMENT_PATTERN = "seg_%05d.m4s"
PLAYLIST = "index.m3u8"
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "warning", "-progress", "pipe:1", "-nostats")


@dataclass(frozen=True)
class EncodeOptions:
    segment_seconds: float = 6.0
    preset: str = "veryfast"
    threads: int = 0           # 0: let x264 decide


def _cmaf(out_dir: Path, segment_seconds: float) -> dict:
    """ffmpeg's HLS muxer writing CMAF: an init segment and fragmented-MP4 media segments, one
    track per file, composition offsets signed (trun v1) so no edit list is needed."""
    return {"f": "hls", "hls_time": f"{segment_seconds:g}", "hls_playlist_type": "vod",
            "hls_flags": "independent_segments", "hls_list_size": 0, "hls_segment_type": "fmp4",
            "hls_fmp4_init_filename": INIT, "hls_segment_filename": str(out_dir / SEGMENT_PATTERN),
            "hls_segment_options": "movflags=+negative_cts_offsets"}


def _audio(kbps: int) -> dict:
    return {"c:a": "aac", "b:a": f"{kbps}k", "ac": 2, "ar": 48000}


def picture(stream, info: MediaInfo):
    """Filters every picture goes through first: deinterlace an interlaced source (one frame per
    frame, bwdif), and cap the frame rate at ``ladder.MAX_FPS`` only when the source is faster."""
    if info.interlaced:
        stream = stream.filter("bwdif", mode="send_frame", parity="auto", deint="all")
    if info.max_fps > ladder.MAX_FPS + 0.01:
        stream = stream.filter("fps", fps=ladder.MAX_FPS)
    return stream


def encode_argv(source: Path, work: Path, info: MediaInfo, renditions: list[Rendition],
                opts: EncodeOptions, ffmpeg_bin: str = "ffmpeg") -> list[str]:
    """One ffmpeg run: decode once, split, scale each rendition to its display size (square
    pixels), CMAF out; the sound once, as its own track.

    Frames keep the source's timestamps (``-fps_mode passthrough``: a variable frame rate stays
    variable). Every rendition gets the same frames, a fixed GOP (no scene-cut keyframes) and
    keyframes forced on segment boundaries, so segments line up and players can switch.
    """
    fps = ladder.output_fps(info.max_fps or info.fps)
    gop = ladder.gop_frames(fps, opts.segment_seconds)
    inp = ffmpeg.input(str(source))
    video = picture(inp.video, info).filter_multi_output("split", len(renditions))
    outputs = []
    for i, r in enumerate(renditions):
        out_dir = work / r.name
        out_dir.mkdir(parents=True, exist_ok=True)
        stream = video[i].filter("scale", r.width, r.height).filter("setsar", 1).filter("format", "yuv420p")
        kwargs = {"c:v": "libx264", "preset": opts.preset, "profile:v": "high", "pix_fmt": "yuv420p",
                  "b:v": f"{r.video_kbps}k", "maxrate": f"{r.maxrate_kbps}k", "bufsize": f"{r.bufsize_kbps}k",
                  "g": gop, "keyint_min": gop, "sc_threshold": 0, "fps_mode": "passthrough",
                  "force_key_frames": f"expr:gte(t,n_forced*{opts.segment_seconds:g})",
                  **_cmaf(out_dir, opts.segment_seconds)}
        if opts.threads:
            kwargs["threads"] = opts.threads
        outputs.append(ffmpeg.output(stream, str(out_dir / PLAYLIST), **kwargs))
    if info.has_audio:
        out_dir = work / AUDIO_NAME
        out_dir.mkdir(parents=True, exist_ok=True)
        outputs.append(ffmpeg.output(inp["a:0"], str(out_dir / PLAYLIST), vn=None,
                                     **_audio(AUDIO_KBPS), **_cmaf(out_dir, opts.segment_seconds)))
    cmd = ffmpeg.merge_outputs(*outputs).global_args(*GLOBAL_ARGS).overwrite_output()
    return cmd.compile(cmd=ffmpeg_bin)


SPRITE_PATTERN = "sprite_%03d.jpg"
# JPEG stops at 65,535 px a side and WebP at 16,383; browsers on phones refuse far less. A sheet
# taller than this is split into several sheets of whole rows.
SPRITE_MAX_SIDE = 8192


@dataclass(frozen=True)
class SpriteGrid:
    count: int              # tiles in all
    columns: int
    rows: int               # rows per sheet
    tile_width: int
    tile_height: int
    interval: float

    @property
    def width(self) -> int:
        return self.columns * self.tile_width

    @property
    def height(self) -> int:
        return self.rows * self.tile_height

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    @property
    def sheets(self) -> int:
        return math.ceil(self.count / self.per_sheet)

    def sheet_name(self, sheet: int) -> str:
        return SPRITE_PATTERN % sheet

    def place(self, i: int) -> tuple[int, int, int]:
        """(sheet, x, y) of tile ``i``."""
        sheet, k = divmod(i, self.per_sheet)
        return sheet, (k % self.columns) * self.tile_width, (k // self.columns) * self.tile_height


def sprite_grid(info: MediaInfo, interval: float, tile_width: int = 160, max_columns: int = 10,
                max_side: int = SPRITE_MAX_SIDE) -> SpriteGrid:
    """One tile every ``interval`` seconds from 0 up to the last frame (never a tile past it, which
    would be black), at the display aspect ratio, on sheets no side of which exceeds ``max_side``."""
    count = int(info.last_frame_time / interval + 1e-9) + 1
    columns = max(1, min(count, max_columns, max_side // tile_width))
    tile_height = even(tile_width * info.height / info.width)
    rows = max(1, min(math.ceil(count / columns), max_side // tile_height))
    return SpriteGrid(count, columns, rows, tile_width, tile_height, interval)


def poster_time(info: MediaInfo) -> float:
    return round(min(info.duration * 0.1, 10.0, info.last_frame_time), 3)


def thumbnails_argv(source: Path, work: Path, info: MediaInfo, grid: SpriteGrid,
                    ffmpeg_bin: str = "ffmpeg", poster_width: int = 1280) -> list[str]:
    """Poster (a frame ~10% in, at most ``poster_width`` wide) and the sprite sheets, one run;
    both at the display aspect ratio with square pixels."""
    pw = even(min(poster_width, info.width))
    ph = even(pw * info.height / info.width)
    poster = (picture(ffmpeg.input(str(source), ss=poster_time(info)).video, info)
              .filter("scale", pw, ph).filter("setsar", 1).filter("format", "yuvj420p")
              .output(str(work / "poster.jpg"), vframes=1, update=1, **{"q:v": 3}))
    sprite = (picture(ffmpeg.input(str(source)).video, info)
              # tile k is the first frame at or after k * interval
              .filter("select", f"gte(t,selected_n*{grid.interval:g})")
              .filter("scale", grid.tile_width, grid.tile_height).filter("setsar", 1)
              .filter("tile", f"{grid.columns}x{grid.rows}")
              .filter("format", "yuvj420p")
              .output(str(work / SPRITE_PATTERN), vframes=grid.sheets, start_number=0, fps_mode="passthrough",
                      **{"q:v": 5}))
    cmd = ffmpeg.merge_outputs(poster, sprite).global_args(*GLOBAL_ARGS).overwrite_output()
    return cmd.compile(cmd=ffmpeg_bin)
