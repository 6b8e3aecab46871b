"""End to end through intake and a real worker: upload URL, PUT, transcode, playback URL, errors, cancel."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from domain.core.models import Course, Lesson, LessonType, Module
from domain.jobs.models import JobEvent
from domain.video import hls
from domain.video.samples import make_sample
from tests.support.jobs import TERMINAL, enqueue, wait_job
from tests.support.stack import wait_for


@pytest.fixture
def lesson_id(db) -> str:
    with db.begin() as s:
        course = Course(slug=f"video-{secrets.token_hex(4)}", title="Video course")
        module = Module(course=course, title="Week 1", position=1)
        lesson = Lesson(module=module, title="Welcome", position=1, type=LessonType.video)
        s.add_all([course, module, lesson])
        s.flush()
        return lesson.id


def create_and_upload(api: httpx.Client, lesson_id: str, path: Path) -> str:
    r = api.post("/v1/videos", json={"lesson_id": lesson_id, "filename": path.name, "content_type": "video/mp4",
                                     "size_bytes": path.stat().st_size})
    assert r.status_code == 201, r.text
    body = r.json()
    put = httpx.put(body["upload"]["url"], content=path.read_bytes(), headers=body["upload"]["headers"], timeout=30)
    assert put.status_code == 200, put.text
    return body["asset"]["id"]


def ffmpeg_running_jobs() -> list[str]:
    """Transcoding ffmpeg processes started by this test run's workers (other checkouts on the
    machine may be transcoding too)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ffmpeg") and "cw-video-" in cmd and _descends_from_us(int(pid)):
            out.append(pid)
    return out


def _progressed(api, job_id: str, percent: int) -> dict | None:
    """The job once it left the queue and reported at least ``percent`` progress (or ended)."""
    job = api.get(f"/v1/jobs/{job_id}").json()["job"]
    return job if job["state"] != "queued" and job["progress"] >= percent or job["state"] in TERMINAL else None


def _descends_from_us(pid: int) -> bool:
    while pid > 1:
        if pid == os.getpid():
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


def test_upload_transcode_and_play(api, db, lesson_id, video_sources):
    # Given an asset created for a lesson and its source PUT to the presigned URL
    asset_id = create_and_upload(api, lesson_id, video_sources["normal"])
    assert api.get(f"/v1/videos/{asset_id}").json()["asset"]["status"] == "awaiting_upload"
    # When its transcode is requested
    r = api.post(f"/v1/videos/{asset_id}/transcode", json={"ladder": [180], "segment_seconds": 1,
                                                           "thumbnail_interval": 1})
    assert r.status_code == 202, r.text
    job = wait_job(api, r.json()["job"]["id"], timeout=180)
    # Then the job succeeds on the first attempt and the asset is ready with its renditions
    assert job["state"] == "succeeded", job
    assert job["attempts"] == 1 and job["progress"] == 100
    view = api.get(f"/v1/videos/{asset_id}").json()
    asset = view["asset"]
    assert asset["status"] == "ready" and abs(asset["duration_seconds"] - 2.0) < 0.1 and asset["version"] == 1
    assert [(r["name"], r["width"], r["height"]) for r in asset["renditions"]] == [
        ("180p", 320, 180), ("audio", None, None)]
    # And a learner's signed playback URLs serve the master playlist, the MPD and, through them, the segments
    urls = api.post(f"/v1/videos/{asset_id}/playback", json={"learner_id": "learner-1", "lesson_id": lesson_id})
    assert urls.status_code == 200, urls.text
    urls = urls.json()
    master = httpx.get(urls["hls_url"], timeout=30)
    assert master.status_code == 200 and master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert [v["URI"] for v in hls.parse_master(master.text)] == ["180p/index.m3u8"]
    assert httpx.get(urls["dash_url"], timeout=30).headers["content-type"].startswith("application/dash+xml")
    media = httpx.get(urls["hls_url"].replace("master.m3u8", "180p/index.m3u8"), timeout=30)
    segment = httpx.get(urls["hls_url"].replace("master.m3u8", "180p/seg_00000.m4s"), timeout=30,
                        follow_redirects=True)
    assert "#EXT-X-MAP" in media.text and segment.status_code == 200 and segment.content[4:8] == b"styp"
    assert httpx.get(urls["thumbnails_vtt_url"], timeout=30).text.startswith("WEBVTT")
    # And a tampered, misrouted or expired token gets 403, another lesson 422
    token = urls["hls_url"].split("/v1/play/")[1].split("/")[0]
    assert httpx.get(urls["hls_url"].replace(token, token[:-2] + "AA"), timeout=30).status_code == 403
    assert httpx.get(urls["hls_url"].replace("master.m3u8", "../../source/x.mp4"), timeout=30).status_code in (403, 404)
    assert api.post(f"/v1/videos/{asset_id}/playback", json={"learner_id": "l", "lesson_id": "other"}
                    ).status_code == 422
    # And progress and the video.ready event were recorded
    with db() as s:
        events = list(s.scalars(select(JobEvent).where(JobEvent.job_id == job["id"]).order_by(JobEvent.id)))
    progress = [e.data["progress"] for e in events if e.type == "job.progress"]
    assert progress and progress == sorted(progress)
    ready = [e.data for e in events if e.type == "video.ready"]
    assert ready == [{"asset_id": asset_id, "lesson_id": lesson_id, "version": 1}]
    # And a second transcode request with the same key is the same job
    again = api.post(f"/v1/videos/{asset_id}/transcode", json={"ladder": [180], "segment_seconds": 1,
                                                               "thumbnail_interval": 1},
                     headers={"Idempotency-Key": f"t-{asset_id}"})
    replay = api.post(f"/v1/videos/{asset_id}/transcode", json={"ladder": [180], "segment_seconds": 1,
                                                                "thumbnail_interval": 1},
                      headers={"Idempotency-Key": f"t-{asset_id}"})
    assert again.json()["job"]["id"] == replay.json()["job"]["id"]
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert wait_job(api, again.json()["job"]["id"], timeout=60)["result"].get("already_ready") is True


def test_bad_requests_get_422_with_the_field_before_anything_is_enqueued(api, lesson_id):
    def err(r):
        assert r.status_code == 422, r.text
        return [d["field"] for d in r.json()["error"]["details"]]

    base = {"lesson_id": lesson_id, "filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 1000}
    assert err(api.post("/v1/videos", json={**base, "lesson_id": "nope"})) == ["lesson_id"]
    assert err(api.post("/v1/videos", json={**base, "content_type": "text/plain"})) == ["content_type"]
    assert err(api.post("/v1/videos", json={**base, "size_bytes": 10**15})) == ["size_bytes"]
    asset_id = api.post("/v1/videos", json=base).json()["asset"]["id"]
    assert err(api.post(f"/v1/videos/{asset_id}/transcode", json={})) == ["asset_id"]   # not uploaded yet
    assert err(api.post("/v1/jobs", json={"kind": "transcode", "payload": {"asset_id": "missing"}})) == [
        "asset_id"]
    assert err(api.post("/v1/jobs", json={"kind": "transcode", "payload": {"asset_id": asset_id,
                                                                            "ladder": [10]}})) == ["payload.ladder.0"]
    assert api.get("/v1/videos/missing").status_code == 404


def test_a_text_file_fails_permanently_without_retries(api, lesson_id, video_sources):
    # Given a "video" that is a text file
    asset_id = create_and_upload(api, lesson_id, video_sources["not_video"])
    # When it is transcoded
    job = enqueue(api, "transcode", {"asset_id": asset_id})
    job = wait_job(api, job["id"], timeout=120)
    # Then the job fails at once with a clear code and the asset says why
    assert job["state"] == "failed" and job["attempts"] == 1
    assert job["error"]["code"] == "corrupt_source"
    asset = api.get(f"/v1/videos/{asset_id}").json()
    assert asset["asset"]["status"] == "failed" and asset["asset"]["error"]["code"] == "corrupt_source"
    assert "playback" not in asset["links"]
    assert api.post(f"/v1/videos/{asset_id}/playback", json={"learner_id": "l"}).status_code == 409


def test_cancel_stops_ffmpeg_and_publishes_nothing(api, lesson_id, tmp_path, s3):
    # Given a transcode of a 20 s clip that is running
    source = make_sample(tmp_path / "long.mp4", seconds=20, width=640, height=360)
    asset_id = create_and_upload(api, lesson_id, source)
    job = enqueue(api, "transcode", {"asset_id": asset_id, "ladder": [360, 240]})
    current = wait_for(lambda: _progressed(api, job["id"], 6), timeout=120, message="the transcode under way")
    assert current["state"] == "running", current
    wait_for(ffmpeg_running_jobs, timeout=30, interval=0.05, message="the transcode's ffmpeg")
    # When it is cancelled
    assert api.post(f"/v1/jobs/{job['id']}/cancel").status_code == 202
    # Then the job ends cancelled, ffmpeg is gone, and no master playlist was published
    done = wait_job(api, job["id"], timeout=60)
    assert done["state"] == "cancelled", done
    wait_for(lambda: ffmpeg_running_jobs() == [], timeout=10, message="the cancelled transcode's ffmpeg to end")
    assert api.get(f"/v1/videos/{asset_id}").json()["asset"]["status"] == "cancelled"
    assert not [k for k in s3.list(f"videos/{asset_id}/") if k.endswith(("master.m3u8", "manifest.mpd"))]


def test_two_transcodes_of_one_asset_at_once_serve_the_later_version(api, db, lesson_id, video_sources, s3):
    # Given an uploaded asset
    asset_id = create_and_upload(api, lesson_id, video_sources["normal"])
    payload = {"asset_id": asset_id, "ladder": [180, 120], "segment_seconds": 1, "force": True}
    # When two transcode jobs for it run at the same time (two worker processes)
    jobs = [enqueue(api, "transcode", payload, **{"Idempotency-Key": f"{asset_id}-{i}"}) for i in range(2)]
    done = [wait_job(api, j["id"], timeout=180) for j in jobs]
    # Then both succeed, each built its own version, and the asset serves the higher one
    assert [j["state"] for j in done] == ["succeeded", "succeeded"], [j["error"] for j in done]
    assert sorted(j["result"]["version"] for j in done) == [1, 2]
    asset = api.get(f"/v1/videos/{asset_id}").json()["asset"]
    assert asset["status"] == "ready" and asset["version"] == 2
    assert asset["master_key"] == f"videos/{asset_id}/v/2/cmaf/master.m3u8"
    assert sorted(r["name"] for r in asset["renditions"]) == ["120p", "180p", "audio"]
    # And both versions' files are whole in storage (the older one waits for the sweep)
    for n in (1, 2):
        assert s3.exists(f"videos/{asset_id}/v/{n}/cmaf/master.m3u8")


@pytest.fixture(scope="module")
def local_intake(stack, api_key, tmp_path_factory):
    """An intake on local-folder storage, whose upload URLs point at its own signed PUT route."""
    root = tmp_path_factory.mktemp("video-local-storage")
    shared = stack.intake_url
    url = stack.start_intake(COURSEWORK_STORAGE_URL=f"local://{root}")
    stack.intake_url = shared      # other modules keep talking to the shared intake
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as client:
        yield client, root


def test_the_upload_url_takes_only_the_declared_content_type_and_size(local_intake, lesson_id, video_sources):
    client, root = local_intake
    source = video_sources["normal"]
    body = client.post("/v1/videos", json={"lesson_id": lesson_id, "filename": "a.mp4", "content_type": "video/mp4",
                                           "size_bytes": source.stat().st_size}).json()
    url, data = body["upload"]["url"], source.read_bytes()
    # another content type than the one signed, or more bytes than declared, is refused and nothing is kept
    assert httpx.put(url, content=data, headers={"Content-Type": "text/html"}, timeout=30).status_code == 403
    assert httpx.put(url, content=data + b"x" * 1000, headers=body["upload"]["headers"], timeout=30).status_code == 413
    assert not (root / body["asset"]["source_key"]).exists()
    # the signed type and size are stored
    assert httpx.put(url, content=data, headers=body["upload"]["headers"], timeout=30).status_code == 200
    assert (root / body["asset"]["source_key"]).read_bytes() == data


def test_20_concurrent_identical_transcode_requests_start_one_job(api, intake, api_key, db, lesson_id, video_sources):
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func

    from domain.jobs.models import Job

    # Given an uploaded source
    asset_id = create_and_upload(api, lesson_id, video_sources["not_video"])   # never transcoded for real
    key = f"transcode-{secrets.token_hex(4)}"

    def one(_):
        with httpx.Client(base_url=intake, timeout=60,
                          headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}) as c:
            return c.post(f"/v1/videos/{asset_id}/transcode")

    # When the web tier sends the same transcode request 20 times at once
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one, range(20)))
    # Then every answer is the same 202 naming the same job, and there is one job
    assert [r.status_code for r in answers] == [202] * 20, [r.text[:200] for r in answers if r.status_code != 202]
    assert len({r.json()["job"]["id"] for r in answers}) == 1
    with db() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.idempotency_key == key)) == 1
