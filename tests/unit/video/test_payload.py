"""The transcode payload's bounds (intake answers 422 with these fields)."""
import pytest
from pydantic import ValidationError

from domain.video.kinds import KINDS, TranscodePayload
from domain.video.probe import parse
from domain.jobs.errors import PermanentError


def test_defaults_and_bounds():
    assert TranscodePayload(asset_id="abc").ladder is None
    for bad, field in [({"asset_id": "a", "ladder": [10]}, ("ladder", 0)),
                       ({"asset_id": "a", "segment_seconds": 0.1}, ("segment_seconds",)),
                       ({"asset_id": "a/../b"}, ("asset_id",)),
                       ({"asset_id": "a", "extra": 1}, ("extra",))]:
        with pytest.raises(ValidationError) as err:
            TranscodePayload.model_validate(bad)
        assert err.value.errors()[0]["loc"] == field


def test_kind_runs_on_the_video_queue():
    (kind,) = KINDS
    assert (kind.name, kind.queue, kind.task) == ("transcode", "video", "tasks.video.transcode")


def test_probe_parse_rejects_images_audio_and_zero_duration():
    image = {"format": {"format_name": "png_pipe"}, "streams": [{"codec_type": "video", "width": 2, "height": 2}]}
    audio = {"format": {"format_name": "wav", "duration": "3"}, "streams": [{"codec_type": "audio"}]}
    empty = {"format": {"format_name": "mov,mp4", "duration": "0"},
             "streams": [{"codec_type": "video", "width": 2, "height": 2}]}
    for data, code in [(image, "not_video"), (audio, "not_video"), (empty, "zero_duration")]:
        with pytest.raises(PermanentError) as err:
            parse(data)
        assert err.value.code == code


def test_probe_parse_applies_rotation_to_the_display_size():
    data = {"format": {"format_name": "mov,mp4", "duration": "2.0", "size": "100"},
            "streams": [{"codec_type": "video", "width": 640, "height": 360, "avg_frame_rate": "30000/1001",
                         "pix_fmt": "yuv420p10le", "side_data_list": [{"rotation": -90}]}]}
    info = parse(data)
    assert (info.width, info.height, info.rotation, round(info.fps, 2), info.has_audio) == (360, 640, 270, 29.97, False)
