"""Beat entries of the video family."""
from __future__ import annotations

from celeryconfig import settings

ENTRIES = {
    "delete-video-versions-past-their-grace-period": {"task": "tasks.video.sweep_versions",
                                                      "schedule": settings.video_sweep_interval_seconds},
}
