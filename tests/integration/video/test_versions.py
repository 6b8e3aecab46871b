"""Versions of an asset's outputs on the real database: the switch, who wins, the sweep."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from domain.core.models import Course, Lesson, LessonType, Module
from domain.db import utcnow
from domain.video import assets, versions
from domain.video.models import VideoVersion


@pytest.fixture
def asset_id(db) -> str:
    with db.begin() as s:
        lesson = Lesson(module=Module(course=Course(slug=f"v-{secrets.token_hex(4)}", title="C"), title="M",
                                      position=1), title="L", position=1, type=LessonType.video)
        s.add(lesson)
        s.flush()
        return assets.create(s, lesson.id, "a.mp4", "video/mp4", 10).id


def result(asset_id: str, n: int) -> dict:
    p = versions.version_prefix(asset_id, n)
    return {"duration": 2.0, "width": 320, "height": 180, "master_key": f"{p}cmaf/master.m3u8",
            "mpd_key": f"{p}cmaf/manifest.mpd", "poster_key": f"{p}thumbs/poster.jpg",
            "sprite_key": f"{p}thumbs/sprite_000.jpg", "thumbnails_vtt_key": f"{p}thumbs/thumbnails.vtt",
            "renditions": [{"name": "180p", "kind": "video", "width": 320, "height": 180, "bandwidth": 1,
                            "average_bandwidth": 1, "codecs": "avc1.64000d", "playlist_key": f"{p}x", "segments": 2}]}


def status(db, asset_id) -> dict[int, str]:
    with db() as s:
        return {v.number: v.status for v in s.query(VideoVersion).filter_by(asset_id=asset_id)}


def test_the_later_version_wins_whichever_finishes_first(db, asset_id):
    # Given two transcodes started one after the other
    with db.begin() as s:
        one = versions.start(s, asset_id).number
    with db.begin() as s:
        two = versions.start(s, asset_id).number
    assert (one, two) == (1, 2)
    # When the second finishes first, then the first
    with db.begin() as s:
        assert versions.publish(s, asset_id, two, result(asset_id, two)) is True
    with db.begin() as s:
        assert versions.publish(s, asset_id, one, result(asset_id, one)) is False
    # Then version 2 is served, version 1 retired at once
    with db() as s:
        asset = assets.require(s, asset_id)
        assert (asset.version, asset.status, asset.master_key) == (2, "ready", result(asset_id, 2)["master_key"])
    assert status(db, asset_id) == {1: "retired", 2: "live"}


def test_sweep_deletes_versions_out_of_service_past_the_grace_only(db, asset_id, s3):
    # Given version 1 served, then replaced by version 2; a version 3 that failed
    for n in (1, 2, 3):
        with db.begin() as s:
            versions.start(s, asset_id)
        s3.put_bytes(f"{versions.version_prefix(asset_id, n)}cmaf/master.m3u8", b"#EXTM3U\n")
    for n in (1, 2):
        with db.begin() as s:
            versions.publish(s, asset_id, n, result(asset_id, n))
    with db.begin() as s:
        versions.fail(s, asset_id, 3)
    grace = timedelta(hours=1)
    # When the sweep runs within the grace period, nothing goes
    with db.begin() as s:
        assert [g for g in versions.sweep(s, s3, grace=grace, abandoned_after=grace * 4) if asset_id in g] == []
    # When it runs after the grace period, the retired and failed versions' files go; the live one stays
    with db.begin() as s:
        gone = versions.sweep(s, s3, grace=grace, abandoned_after=grace * 4, now=utcnow() + grace * 2)
    assert sorted(g for g in gone if asset_id in g) == [versions.version_prefix(asset_id, 1), versions.version_prefix(asset_id, 3)]
    assert status(db, asset_id) == {1: "deleted", 2: "live", 3: "deleted"}
    assert [k.split("/")[3] for k in s3.list(f"videos/{asset_id}/v/")] == ["2"]
    # And a second sweep finds nothing more to do
    with db.begin() as s:
        assert [g for g in versions.sweep(s, s3, grace=grace, abandoned_after=grace * 4, now=utcnow() + grace * 2)
                if asset_id in g] == []
