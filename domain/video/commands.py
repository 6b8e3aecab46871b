"""The ffmpeg command lines, built with ffmpeg-python. The benchmark runs these same argv lists."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from domain.video.ladder import AUDIO_KBPS, AUDIO_ONLY_KBPS, Rendition, even, gop_frames, output_fps
from domain.video.probe import MediaInfo

AUDIO_NAME = "audio"
SEGMENT_PATTERN = "seg_%05d.ts"
PLAYLIST = "index.m3u8"
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "warning", "-progress", "pipe:1", "-nostats")


@dataclass(frozen=True)
class EncodeOptions:
    segment_seconds: float = 6.0
    preset: str = "veryfast"
    threads: int = 0           # 0: let x264 decide


@dataclass(frozen=True)
class SpriteGrid:
    count: int
    columns: int
    rows: int
    tile_width: int
    tile_height: int
    interval: float

    @property
    def width(self) -> int:
        return self.columns * self.tile_width

    @property
    def height(self) -> int:
        return self.rows * self.tile_height


def _hls(out_dir: Path, segment_seconds: float) -> dict:
    return {"f": "hls", "hls_time": f"{segment_seconds:g}", "hls_playlist_type": "vod",
            "hls_flags": "independent_segments", "hls_list_size": 0,
            "hls_segment_filename": str(out_dir / SEGMENT_PATTERN)}


def _audio(kbps: int) -> dict:
    return {"c:a": "aac", "b:a": f"{kbps}k", "ac": 2, "ar": 48000}


def encode_argv(source: Path, work: Path, info: MediaInfo, renditions: list[Rendition],
                opts: EncodeOptions, ffmpeg_bin: str = "ffmpeg") -> list[str]:
    """One ffmpeg run: decode once, split, scale each rendition, HLS out; plus audio-only.

    Every rendition gets the same constant frame rate, a fixed GOP (no scene-cut keyframes) and
    keyframes forced on segment boundaries, so segments line up and players can switch.
    """
    fps = output_fps(info.fps)
    gop = gop_frames(fps, opts.segment_seconds)
    inp = ffmpeg.input(str(source))
    video = inp.video.filter("fps", fps=fps).filter_multi_output("split", len(renditions))
    outputs = []
    for i, r in enumerate(renditions):
        out_dir = work / r.name
        out_dir.mkdir(parents=True, exist_ok=True)
        stream = video[i].filter("scale", r.width, r.height).filter("setsar", 1).filter("format", "yuv420p")
        streams = [stream, inp["a:0"]] if info.has_audio else [stream]
        kwargs = {"c:v": "libx264", "preset": opts.preset, "profile:v": "high", "pix_fmt": "yuv420p",
                  "b:v": f"{r.video_kbps}k", "maxrate": f"{r.maxrate_kbps}k", "bufsize": f"{r.bufsize_kbps}k",
                  "g": gop, "keyint_min": gop, "sc_threshold": 0,
                  "force_key_frames": f"expr:gte(t,n_forced*{opts.segment_seconds:g})",
                  **(_audio(AUDIO_KBPS) if info.has_audio else {}), **_hls(out_dir, opts.segment_seconds)}
        if opts.threads:
            kwargs["threads"] = opts.threads
        outputs.append(ffmpeg.output(*streams, str(out_dir / PLAYLIST), **kwargs))
    if info.has_audio:
        out_dir = work / AUDIO_NAME
        out_dir.mkdir(parents=True, exist_ok=True)
        outputs.append(ffmpeg.output(inp["a:0"], str(out_dir / PLAYLIST), vn=None,
                                     **_audio(AUDIO_ONLY_KBPS), **_hls(out_dir, opts.segment_seconds)))
    cmd = ffmpeg.merge_outputs(*outputs).global_args(*GLOBAL_ARGS).overwrite_output()
    return cmd.compile(cmd=ffmpeg_bin)


def sprite_grid(info: MediaInfo, interval: float, tile_width: int = 160, max_columns: int = 10) -> SpriteGrid:
    count = max(1, math.ceil(info.duration / interval - 1e-6))
    columns = min(count, max_columns)
    rows = math.ceil(count / columns)
    tile_height = even(tile_width * info.height / info.width)
    return SpriteGrid(count, columns, rows, tile_width, tile_height, interval)


def poster_time(duration: float) -> float:
    return round(min(duration * 0.1, 10.0), 3)


def thumbnails_argv(source: Path, work: Path, info: MediaInfo, grid: SpriteGrid,
                    ffmpeg_bin: str = "ffmpeg", poster_width: int = 1280) -> list[str]:
    """Poster (a frame ~10% in, at most ``poster_width`` wide) and the sprite sheet, one run."""
    pw = even(min(poster_width, info.width))
    ph = even(pw * info.height / info.width)
    poster = (ffmpeg.input(str(source), ss=poster_time(info.duration)).video
              .filter("scale", pw, ph).filter("format", "yuvj420p")
              .output(str(work / "poster.jpg"), vframes=1, **{"q:v": 3}))
    sprite = (ffmpeg.input(str(source)).video
              # the first frame, then the first frame at least `interval` after the last one taken
              .filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{grid.interval:g})")
              .filter("scale", grid.tile_width, grid.tile_height).filter("setsar", 1)
              .filter("tile", f"{grid.columns}x{grid.rows}")
              .filter("format", "yuvj420p")
              .output(str(work / "sprite.jpg"), vframes=1, fps_mode="passthrough", **{"q:v": 5}))
    cmd = ffmpeg.merge_outputs(poster, sprite).global_args(*GLOBAL_ARGS).overwrite_output()
    return cmd.compile(cmd=ffmpeg_bin)
