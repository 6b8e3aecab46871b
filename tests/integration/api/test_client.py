"""The Python client (clients/python) against the real intake and a real worker: jobs, waits on
the event stream, page iterators, and the helpers for the common flows."""
from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from coursework_client import ApiError, AsyncClient, Client, StreamError  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cw(stack, intake, worker, api_key):
    with Client(intake, api_key) as client:
        yield client


def test_the_client_package_imports_nothing_of_the_platform():
    # a web tier installs clients/python alone: httpx and pydantic, nothing of the platform
    probe = ("import sys, coursework_client; "
             "bad = sorted({m.split('.')[0] for m in sys.modules} & {'celery', 'kombu', 'sqlalchemy', 'redis', "
             "'fastapi', 'starlette', 'domain', 'intake', 'workers', 'celeryconfig'}); print(bad)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT / "clients",
                         check=True)
    assert out.stdout.strip() == "[]"
    deps = (ROOT / "clients" / "python" / "pyproject.toml").read_text().split("dependencies = [")[1].split("]")[0]
    assert sorted(d.split(">")[0].strip(' "\n') for d in deps.split(",") if d.strip()) == ["httpx", "pydantic"]


def test_enqueue_then_wait_follows_the_stream_to_the_end(cw):
    accepted = cw.enqueue("ping", {"echo": "client"})
    assert accepted.job.state == "queued" and not accepted.replayed
    job = cw.wait(accepted.job.id, timeout=60)
    assert job.state == "succeeded" and job.done
    events = [e.type for e in cw.events(job.id)]           # replayed from the start, then closed
    assert events[0] == "job.queued" and events[-1] == "job.succeeded"


def test_concurrent_waits_stay_within_a_tight_rate_limit(database, redis_server, s3_server, worker):
    # Given an intake allowing a key 12 requests a minute
    from tests.support.stack import Stack

    st = Stack(database, redis_server.url, s3_server.endpoint,
               extra_env={"COURSEWORK_RATE_LIMIT_PER_MINUTE": "12"})
    try:
        st.start_intake()
        key = st.create_key("enqueue,read,operate", name=f"tight-{secrets.token_hex(3)}")   # sleep is an operator drill
        sent: list[str] = []

        async def main():
            async with AsyncClient(st.intake_url, key) as cw:
                cw.http.event_hooks["request"].append(lambda req: _count(sent, req))
                jobs = await asyncio.gather(*(cw.enqueue("ping", {"sleep": 3}) for _ in range(3)))
                return await asyncio.gather(*(cw.wait(a.job.id, timeout=90) for a in jobs))

        # When three jobs of a few seconds are enqueued and waited for at once
        done = asyncio.run(main())
    finally:
        st.stop()
    # Then each wait took one stream and one read: nine requests in all, no 429 on the way
    assert [j.state for j in done] == ["succeeded"] * 3
    assert len(sent) == 9, sent


async def _count(sent: list, request) -> None:
    sent.append(f"{request.method} {request.url.path}")


def test_every_post_gets_an_idempotency_key_and_a_given_one_replays(cw):
    a, b = cw.enqueue("ping", {"echo": "x"}), cw.enqueue("ping", {"echo": "x"})
    assert a.job.id != b.job.id and a.job.idempotency_key and b.job.idempotency_key
    key = f"client-{secrets.token_hex(4)}"
    first = cw.enqueue("ping", {"echo": "y"}, idempotency_key=key)
    again = cw.enqueue("ping", {"echo": "y"}, idempotency_key=key)
    assert again.replayed and again.job.id == first.job.id
    with pytest.raises(ApiError) as err:
        cw.enqueue("ping", {"echo": "other"}, idempotency_key=key)
    assert err.value.status == 409 and err.value.code == "idempotency_conflict"


def test_errors_carry_the_envelope(cw):
    with pytest.raises(ApiError) as err:
        cw.enqueue("ping", {"sleep": "soon"})
    assert err.value.status == 422 and [d["field"] for d in err.value.details] == ["payload.sleep"]
    with pytest.raises(ApiError) as err:
        cw.get_job("no-such-job")
    assert err.value.status == 404 and err.value.code == "not_found"


def test_iter_jobs_walks_every_page(stack, intake, worker):
    key = stack.create_key("enqueue,read", name=f"pages-{secrets.token_hex(3)}")
    with Client(intake, key) as cw:
        made = {cw.enqueue("ping", {"echo": str(i)}).job.id for i in range(7)}
        seen = [job.id for job in cw.iter_jobs(kind="ping", page_size=3)]
    assert len(seen) == len(set(seen)) == 7 and set(seen) == made


def test_cancel_and_wait_with_raise_on_failure(cw):
    from coursework_client import JobFailed

    job = cw.enqueue("ping", {"sleep": 30}).job
    cw.cancel(job.id)
    with pytest.raises(JobFailed) as err:
        cw.wait(job.id, timeout=60, raise_on_failure=True)
    assert err.value.job.state == "cancelled"


def test_the_async_client_does_the_same(stack, intake, worker, api_key):
    async def main():
        async with AsyncClient(intake, api_key) as cw:
            jobs = await asyncio.gather(*(cw.enqueue("ping", {"echo": f"a{i}"}) for i in range(3)))
            done = await asyncio.gather(*(cw.wait(a.job.id, timeout=60) for a in jobs))
            page = [j async for j in cw.iter_jobs(kind="ping", page_size=2)]
            return done, page
    done, page = asyncio.run(main())
    assert [j.state for j in done] == ["succeeded"] * 3
    assert {j.id for j in done} <= {j.id for j in page}


# ------------------------------------------------------------------------------------ flows

def test_submit_code_and_wait_for_the_verdict(cw, db):
    from tests.integration.sandbox.test_flow import _fixtures

    f = _fixtures(db, linked=False)
    sub = cw.submit_and_wait(f["exercise_id"], f["user_id"], "python",
                             "a, b = map(int, input().split())\nprint(a + b)\n", timeout=120)
    assert sub.status == "graded" and sub.verdict == "AC" and sub.score == 100


def test_upload_a_video_and_transcode_it(cw, db, tmp_path):
    from domain.core.models import Course, Lesson, LessonType, Module
    from domain.video.samples import make_sample

    with db.begin() as s:
        course = Course(slug=f"client-{secrets.token_hex(4)}", title="Video course")
        lesson = Lesson(module=Module(course=course, title="W1", position=1), title="Hi", position=1,
                        type=LessonType.video)
        s.add_all([course, lesson])
        s.flush()
        lesson_id = lesson.id
    source = make_sample(tmp_path / "clip.mp4", seconds=2)
    asset, job = cw.upload_and_transcode(lesson_id, source, ladder=[180], segment_seconds=1, wait=True,
                                         timeout=300)
    assert asset.filename == "clip.mp4" and job.state == "succeeded", job.error
    view = cw.get_video(asset.id)
    assert view.asset.status == "ready" and view.links["playback"]
    urls = cw.playback(asset.id, "learner-1")
    assert urls.hls_url.endswith(".m3u8") and urls.dash_url.endswith(".mpd")


@pytest.fixture(scope="module")
def tutor_stack(database, redis_server, s3_server):
    from tests.integration.tutor.model_server import ModelServer
    from tests.support.stack import Stack

    model = ModelServer().start()
    url = redis_server.url.rsplit("/", 1)[0] + "/6"
    st = Stack(database, url, s3_server.endpoint, extra_env={
        "COURSEWORK_OPENAI_API_KEY": "test-key", "COURSEWORK_OPENAI_BASE_URL": model.base_url})
    st.start_intake()
    st.start_worker(queues="tutor", concurrency=2, pool="threads", name="client-tutor")
    yield st, st.create_key("enqueue,read", name="client-tutor")
    st.stop()
    model.stop()


def test_stream_a_tutor_reply(tutor_stack, database):
    from tests.integration.tutor.conftest import make_course
    from tests.unit.tutor.course_fixture import LESSONS

    st, key = tutor_stack
    course = make_course(database.url, LESSONS)
    with Client(st.intake_url, key) as cw:
        session = cw.start_tutor_session(course["user_id"], course["course_id"], topic="joins")
        pieces = list(cw.ask_and_stream(session.id, "What does a LEFT OUTER JOIN do when there is no match?"))
        assert len(pieces) >= 2
        stored = cw.http.get(f"/v1/tutor/sessions/{session.id}").json()["messages"]
    assert "".join(pieces) == stored[-1]["content"] and stored[-1]["status"] == "complete"


def test_the_async_client_streams_a_reply_and_waits_for_a_verdict(tutor_stack, database, cw, db):
    from tests.integration.sandbox.test_flow import _fixtures
    from tests.integration.tutor.conftest import make_course
    from tests.unit.tutor.course_fixture import LESSONS

    st, key = tutor_stack
    course = make_course(database.url, LESSONS)
    f = _fixtures(db, linked=False)

    async def main():
        async with AsyncClient(st.intake_url, key) as tutor:
            session = await tutor.start_tutor_session(course["user_id"], course["course_id"])
            pieces = [p async for p in tutor.ask_and_stream(session.id, "What does GROUP BY do?")]
        async with AsyncClient(str(cw.http.base_url), cw.auth_headers["Authorization"][7:]) as shared:
            sub = await shared.submit_and_wait(f["exercise_id"], f["user_id"], "python", "print(1)\n", timeout=120)
        return pieces, sub

    pieces, sub = asyncio.run(main())
    assert len(pieces) >= 2 and "".join(pieces).strip()
    assert sub.status == "graded" and sub.verdict == "WA" and sub.score == 0
