"""End to end: intake → tutor_reply job on a real worker → local model server → Redis → SSE."""
import threading
from contextlib import contextmanager

import pytest
import redis

from celeryconfig import settings
from domain.db import unit_of_work
from domain.tutor import stream_tokens
from domain.tutor.budget import DailyBudget
from domain.tutor.models import TutorPassage
from domain.tutor.replay import stream_key
from tests.integration.tutor import sse
from tests.integration.tutor.conftest import make_course
from tests.support.jobs import wait_job
from tests.support.stack import Stack, consumed_queues, wait_for
from tests.unit.tutor.course_fixture import LESSONS

BUDGET = 50_000      # room for several replies in flight at once (each holds its prompt + 800 tokens)


@pytest.fixture(scope="module")
def tutor(database, redis_server, s3_server, model_server):
    """A stack of its own (Redis DB 5, so no other worker takes its jobs) whose worker uses the model server."""
    url = redis_server.url.rsplit("/", 1)[0] + "/5"
    st = Stack(database, url, s3_server.endpoint, extra_env={
        "COURSEWORK_OPENAI_API_KEY": "test-key", "COURSEWORK_OPENAI_BASE_URL": model_server.base_url,
        "COURSEWORK_TUTOR_IDLE_TIMEOUT": "1", "COURSEWORK_TUTOR_MAX_RETRY_WAIT": "3",
        "COURSEWORK_TUTOR_DAILY_TOKEN_BUDGET": str(BUDGET)})
    st.start_intake()
    st.start_worker(queues="tutor", concurrency=4, pool="threads", name="tutor")
    key = st.create_key("enqueue,read", name="tutor-web-tier")
    client = st.client(key)
    client.redis = redis.Redis.from_url(url)
    client.stack, client.broker_url = st, url
    yield client
    client.close()
    st.stop()


@pytest.fixture(scope="module")
def course(database):
    return make_course(database.url, LESSONS)


def _session(api, course, **extra):
    body = {"user_id": course["user_id"], "course_id": course["course_id"], **extra}
    r = api.post("/v1/tutor/sessions", json=body)
    assert r.status_code == 201, r.text
    return r.json()["session"]["id"]


def _say(api, session_id, text, **headers):
    r = api.post(f"/v1/tutor/sessions/{session_id}/messages", json={"content": text}, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()


def _stream_url(api, session_id, reply_id=None):
    r = api.post(f"/v1/tutor/sessions/{session_id}/stream-token")
    assert r.status_code == 200, r.text
    url = r.json()["stream_url"]
    return f"{url}&reply_id={reply_id}" if reply_id else url


@contextmanager
def _tutor_queue_paused(api):
    """The tutor queue paused by an operator for the block: replies posted meanwhile wait in the broker."""
    with api.stack.client(api.stack.create_key("operate,read", name="on-call")) as ops:
        r = ops.post("/v1/ops/queues/tutor/pause")
        assert r.status_code == 200 and r.json()["paused"] is True, r.text
        wait_for(lambda: list(consumed_queues(api.broker_url).values()) == [set()], timeout=30, interval=0.3,
                 message="the tutor worker to leave the paused queue")
        try:
            yield
        finally:
            assert ops.post("/v1/ops/queues/tutor/resume").status_code == 200
            wait_for(lambda: list(consumed_queues(api.broker_url).values()) == [{"tutor"}], timeout=30,
                     interval=0.3, message="the tutor worker to consume its queue again")


def _blocked_reads(r) -> int:
    """Connections blocked in an ``XREAD`` on the tutor's Redis (intake following streams)."""
    return sum(1 for c in r.client_list() if c.get("cmd") == "xread" and "b" in c.get("flags", ""))


def _browser(api):
    """The browser's client: same intake, no API key."""
    import httpx

    return httpx.Client(base_url=str(api.base_url), timeout=30)


def test_a_reply_streams_over_sse_cites_the_lesson_and_is_persisted(tutor, course):
    # Given a learner's session on the joins lesson
    sid = _session(tutor, course, lesson_id=course["lessons"]["joins"], topic="joins")
    # When they ask a question and their browser follows the stream with a signed token
    posted = _say(tutor, sid, "What does a LEFT OUTER JOIN do when there is no match?")
    with _browser(tutor) as browser:
        status, events, first = sse.read(browser, _stream_url(tutor, sid))
    # Then the first token arrives on its own, the rest in merged pieces, then done with the stored
    # reply and its citations
    assert status == 200 and first is not None
    kinds = [k for k, _, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("token") >= 2
    done = events[-1][1]
    assert done["id"] == posted["reply"]["id"] and done["status"] == "complete"
    assert sse.text_of(events) == done["content"]
    assert done["content"].startswith("According to [1] (Combining tables with joins)")
    assert done["citations"][0]["lesson_id"] == course["lessons"]["joins"]
    stored = tutor.get(f"/v1/tutor/sessions/{sid}").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["content"] == done["content"] and stored[1]["completion_tokens"] > 0
    assert wait_job(tutor, posted["job"]["id"])["state"] == "succeeded"


def test_many_browsers_follow_many_replies_at_once(tutor, course, model_server):
    # Given three learners' replies streaming slowly, two browser tabs on the first one
    model_server.chunk_delay = 0.05
    try:
        sids = [_session(tutor, course) for _ in range(3)]
        urls = [_stream_url(tutor, sid, _say(tutor, sid, "What does COALESCE return?")["reply"]["id"]) for sid in sids]
        urls.insert(1, urls[0])
        got: dict[int, tuple] = {}

        def follow(i):
            with _browser(tutor) as browser:
                got[i] = sse.read(browser, urls[i])

        # When the four tabs follow at the same time (one intake process reads every stream)
        threads = [threading.Thread(target=follow, args=(i,)) for i in range(len(urls))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        model_server.chunk_delay = 0.0
    # Then each got its own reply whole, from start to done, and the two tabs the same one
    for i, (status, events, _) in got.items():
        assert status == 200 and events[0][0] == "start" and events[-1][0] == "done", events
        assert sse.text_of(events) == events[-1][1]["content"]
    ids = [got[i][1][-1][1]["id"] for i in range(4)]
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3


def test_a_late_client_gets_what_was_said_then_the_rest(tutor, course, model_server):
    # Given a reply that streams slowly
    model_server.chunk_delay = 0.1
    try:
        sid = _session(tutor, course)
        posted = _say(tutor, sid, "Why do indexes slow down inserts and updates?")
        key = stream_key(posted["reply"]["id"])
        # When the browser connects only after several tokens were published
        wait_for(lambda: tutor.redis.xlen(key) >= 5, timeout=30, message="a few tokens")
        with _browser(tutor) as browser:
            status, events, _ = sse.read(browser, _stream_url(tutor, sid))
            # Then it got everything from the start, then the rest, and the text is whole
            assert status == 200 and events[0][0] == "start" and events[-1][0] == "done"
            assert sse.text_of(events) == events[-1][1]["content"]
            # and the backlog it caught up on came as one token event (fewer events than entries)
            assert len(events) < tutor.redis.xlen(key)
            # and a reconnect with Last-Event-ID resumes after what it already had
            i = len(events) // 2
            assert i >= 2, events
            status, rest, _ = sse.read(browser, _stream_url(tutor, sid), headers={"Last-Event-ID": events[i][2]})
            assert sse.text_of(rest) == sse.text_of(events[i + 1:])
            assert rest[-1][0] == "done"
            # and once Redis no longer has the reply, the stored reply is served whole
            tutor.redis.delete(key)
            status, again, _ = sse.read(browser, _stream_url(tutor, sid))
            assert [k for k, _, _ in again] == ["start", "token", "done"]
            assert again[1][1]["text"] == events[-1][1]["content"]
    finally:
        model_server.chunk_delay = 0.0


def test_stream_tokens_for_another_session_or_expired_are_refused(tutor, course):
    a, b = _session(tutor, course), _session(tutor, course)
    reply_a = _say(tutor, a, "What does COALESCE return?")["reply"]["id"]
    token_a = tutor.post(f"/v1/tutor/sessions/{a}/stream-token").json()["token"]
    token_b = tutor.post(f"/v1/tutor/sessions/{b}/stream-token").json()["token"]
    expired, _ = stream_tokens.mint(settings.signing_secret, a, ttl=-1)
    with _browser(tutor) as browser:
        r = browser.get(f"/v1/tutor/sessions/{b}/stream", params={"token": token_a})
        assert r.status_code == 403 and r.json()["error"]["code"] == "token_mismatch"
        # session b's own token does not open session a's reply through b's stream either
        r = browser.get(f"/v1/tutor/sessions/{b}/stream", params={"token": token_b, "reply_id": reply_a})
        assert r.status_code == 404 and r.json()["error"]["details"][0]["field"] == "reply_id"
        # nor is there a latest reply to follow in session b yet, nor in a session that does not exist
        r = browser.get(f"/v1/tutor/sessions/{b}/stream", params={"token": token_b})
        assert r.status_code == 404 and "no reply to follow" in r.json()["error"]["message"]
        gone, _ = stream_tokens.mint(settings.signing_secret, "nosuchsession", ttl=60)
        r = browser.get("/v1/tutor/sessions/nosuchsession/stream", params={"token": gone})
        assert r.status_code == 404 and "no tutor session" in r.json()["error"]["message"]
        r = browser.get("/v1/tutor/sessions/nosuchsession/stream", params={"token": token_b})
        assert r.status_code == 403 and r.json()["error"]["code"] == "token_mismatch"
        r = browser.get(f"/v1/tutor/sessions/{a}/stream", params={"token": expired})
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
        r = browser.get(f"/v1/tutor/sessions/{a}/stream", params={"token": "forged.token"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
        r = browser.get(f"/v1/tutor/sessions/{a}/stream")
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.token"
        # the web tier's API key is what mints tokens: a browser without one cannot
        r = browser.post(f"/v1/tutor/sessions/{a}/stream-token")
        assert r.status_code == 401


def test_bad_input_is_refused_before_anything_is_enqueued(tutor, course):
    cases = [
        ({"course_id": "nope"}, 422, "invalid_payload", "course_id"),
        ({"mode": "socratic"}, 422, "validation_error", "mode"),
        ({"mode": "hint"}, 422, "invalid_payload", "exercise_id"),
        ({"lesson_id": "not-in-course"}, 422, "invalid_payload", "lesson_id"),
        ({"extra": 1}, 422, "validation_error", "extra"),
    ]
    for extra, status, code, field in cases:
        body = {"user_id": course["user_id"], "course_id": course["course_id"], **extra}
        r = tutor.post("/v1/tutor/sessions", json=body)
        assert r.status_code == status, (extra, r.text)
        err = r.json()["error"]
        assert err["code"] == code and err["details"][0]["field"] == field, (extra, err)
    sid = _session(tutor, course)
    r = tutor.post(f"/v1/tutor/sessions/{sid}/messages", json={"content": ""})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "content"
    r = tutor.post("/v1/jobs", json={"kind": "tutor_reply", "payload": {"session_id": sid, "reply_id": "x"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "reply_id"
    assert tutor.post(f"/v1/tutor/sessions/{sid}/end").json()["session"]["status"] == "ended"
    r = tutor.post(f"/v1/tutor/sessions/{sid}/messages", json={"content": "still there?"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_ended"


def test_a_spent_daily_budget_is_refused_with_a_clear_error(tutor, course, database):
    from tests.integration.tutor.conftest import make_user

    user = make_user(database.url)
    sid = _session(tutor, {**course, "user_id": user})
    DailyBudget(tutor.redis, BUDGET).charge(user, "earlier", BUDGET)
    r = tutor.post(f"/v1/tutor/sessions/{sid}/messages", json={"content": "What is an index?"})
    assert r.status_code == 429
    err = r.json()["error"]
    assert err["code"] == "budget_exhausted" and "daily tutor budget is spent" in err["message"]
    assert 0 < int(r.headers["Retry-After"]) <= 86400


def test_exhausted_provider_quota_fails_the_job_and_tells_the_browser(tutor, course):
    sid = _session(tutor, course)
    posted = _say(tutor, sid, "What does COALESCE return? !quota")
    with _browser(tutor) as browser:
        _, events, _ = sse.read(browser, _stream_url(tutor, sid))
    assert events[-1][0] == "error" and events[-1][1]["code"] == "insufficient_quota"
    job = wait_job(tutor, posted["job"]["id"])
    assert job["state"] == "failed" and job["error"]["code"] == "insufficient_quota" and job["attempts"] == 1


def test_posting_twice_with_one_idempotency_key_makes_one_reply(tutor, course):
    sid = _session(tutor, course)
    first = _say(tutor, sid, "What does COALESCE return?", **{"Idempotency-Key": f"msg-{sid}"})
    r = tutor.post(f"/v1/tutor/sessions/{sid}/messages", json={"content": "What does COALESCE return?"},
                   headers={"Idempotency-Key": f"msg-{sid}"})
    assert r.status_code == 202 and r.headers.get("Idempotent-Replayed") == "true"
    assert r.json()["reply"]["id"] == first["reply"]["id"]
    wait_job(tutor, first["job"]["id"])
    assert len(tutor.get(f"/v1/tutor/sessions/{sid}").json()["messages"]) == 2


def test_concurrent_first_questions_index_a_new_course_once(tutor, database):
    # Given a course never indexed and five learners asking at the same moment
    fresh = make_course(database.url, LESSONS)
    sids = [_session(tutor, fresh) for _ in range(5)]
    results, errors = {}, []

    def ask(sid):
        try:
            posted = _say(tutor, sid, "What causes a deadlock between transactions?")
            results[sid] = wait_job(tutor, posted["job"]["id"], timeout=60)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(sid,)) for sid in sids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then every reply succeeded and cited the transactions lesson, and no passage is duplicated
    assert errors == []
    assert {j["state"] for j in results.values()} == {"succeeded"}
    assert {j["result"]["citations"][0]["lesson_id"] for j in results.values()} == {fresh["lessons"]["transactions"]}
    from sqlalchemy import func, select

    with unit_of_work(database.url) as s:
        rows = s.execute(select(TutorPassage.lesson_id, TutorPassage.position, func.count())
                         .where(TutorPassage.course_id == fresh["course_id"])
                         .group_by(TutorPassage.lesson_id, TutorPassage.position)).all()
    assert rows and all(n == 1 for _, _, n in rows)


@pytest.mark.parametrize("how", ["literal", "spaced", "reversed", "lines", "paraphrase", "prompt"])
def test_hint_mode_never_streams_the_exercise_solution(tutor, course, database, model_server, how):
    # Given a graded exercise (the sandbox family's model) with a reference solution and a visible case
    from domain.sandbox.models import Exercise, TestCase
    from domain.tutor import guard, prompt
    from tests.unit.tutor.test_guard import SOLUTION

    with unit_of_work(database.url) as s:
        exercise = Exercise(title="FizzBuzz", description="Print Fizz, Buzz or the number.",
                            reference_language="python", reference_solution=SOLUTION)
        exercise.test_cases = [TestCase(position=0, stdin="3", expected_stdout="Fizz"),
                               TestCase(position=1, stdin="secret-input", expected_stdout="x", hidden=True)]
        s.add(exercise)
        s.flush()
        exercise_id = exercise.id
    r = tutor.post("/v1/tutor/sessions", json={"user_id": course["user_id"], "course_id": course["course_id"],
                                               "mode": "hint", "exercise_id": "no-such-exercise"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "exercise_id"
    sid = _session(tutor, course, mode="hint", exercise_id=exercise_id)
    # When the learner asks and a model that knows the solution hands it over, disguised
    model_server.known_solution = SOLUTION
    _say(tutor, sid, f"How do I filter rows with WHERE? !leak:{how} {exercise_id}")
    with _browser(tutor) as browser:
        _, events, _ = sse.read(browser, _stream_url(tutor, sid))
    # Then the model was given the exercise and its visible case, never the solution or a hidden case
    assert model_server.count("Print Fizz, Buzz or the number.") >= 1
    assert model_server.count(SOLUTION.splitlines()[1].strip()) == 0
    assert model_server.count("secret-input") == 0
    # And no token the browser got holds the solution or the instructions: only the refusal
    published = "".join(d["text"] for k, d, _ in events if k == "token")
    assert published == guard.REFUSAL
    assert not any(k == "reset" for k, _, _ in events)
    assert guard._norm(prompt.HINT_RULES) not in guard._norm(published)
    done = events[-1][1]
    assert done["blocked"] is True and done["content"] == guard.REFUSAL == sse.text_of(events)


def test_a_reply_whose_job_ended_without_a_word_ends_the_stream_with_an_error(tutor, course):
    # Given a pending reply whose job was cancelled before any worker ran it
    sid = _session(tutor, course)
    with _tutor_queue_paused(tutor):
        job_id = _say(tutor, sid, "What does COALESCE return?")["job"]["id"]
        r = tutor.post(f"/v1/jobs/{job_id}/cancel")
        assert r.status_code == 202 and r.json()["job"]["state"] == "cancelled", r.text
    # When the browser follows it
    with _browser(tutor) as browser:
        status, events, _ = sse.read(browser, _stream_url(tutor, sid), timeout=30)
    # Then the stream ends with an error rather than waiting forever
    assert status == 200
    assert events == [("error", {"code": "reply_failed", "message": "job cancelled"}, None)]
    # and the session takes a new message (the dead reply does not block it)
    assert tutor.post(f"/v1/tutor/sessions/{sid}/messages", json={"content": "And NULL?"}).status_code == 202


def test_browsers_that_leave_mid_wait_do_not_hand_their_reads_to_other_streams(tutor, course, model_server):
    import httpx

    # Given a reply whose first token is 0.8 s away (under the worker's 1 s idle timeout), followed by
    # browsers that leave while they wait
    model_server.first_token_delay = 0.8
    try:
        left = _say(tutor, _session(tutor, course), "What does a LEFT OUTER JOIN do when there is no match?")
        url = _stream_url(tutor, left["reply"]["session_id"], left["reply"]["id"])
        opened, go = [], threading.Event()

        def leave():
            with httpx.Client(base_url=str(tutor.base_url), timeout=30) as gone:
                with gone.stream("GET", url) as r:     # the stream is open: intake waits on Redis for it
                    opened.append(r.status_code)
                    go.wait(30)
                # and the browser is gone while intake's read is pending

        leaving = [threading.Thread(target=leave) for _ in range(6)]
        for t in leaving:
            t.start()
        # (every one of the six streams has its read pending in Redis as they leave)
        wait_for(lambda: _blocked_reads(tutor.redis) >= 6, timeout=30, interval=0.02,
                 message="intake's six stream reads blocked in Redis")
        go.set()
        for t in leaving:
            t.join()
        assert opened == [200] * 6
    finally:
        model_server.first_token_delay = 0.0
    # When other replies are followed right after, while the first one starts to stream
    sids = [_session(tutor, course) for _ in range(3)]
    replies = [_say(tutor, sid, "What does COALESCE return?")["reply"]["id"] for sid in sids]
    got = [None] * 3

    def follow(i):
        with _browser(tutor) as browser:
            got[i] = sse.read(browser, _stream_url(tutor, sids[i], replies[i]))[1]

    threads = [threading.Thread(target=follow, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then each stream carries its own reply only (a read cut short never answers another stream)
    for reply_id, events in zip(replies, got):
        kinds = [k for k, _, _ in events]
        assert kinds[0] == "start" and kinds.count("start") == 1 and kinds[-1] == "done"
        assert events[-1][1]["id"] == reply_id and sse.text_of(events) == events[-1][1]["content"]
    # and the first reply is still followed to its end
    with _browser(tutor) as browser:
        status, events, _ = sse.read(browser, url)
    assert status == 200 and events[-1][0] == "done" and events[-1][1]["id"] == left["reply"]["id"]
