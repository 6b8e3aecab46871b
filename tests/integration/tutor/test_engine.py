"""One reply composed in-process against the test PostgreSQL and a private Redis:
the offline tutor, 'not covered', reruns, the worker-side budget check, the hint guard."""
import functools

import pytest
import redis

from domain.db import new_id, unit_of_work
from domain.jobs.errors import PermanentError
from domain.tutor import engine, exercises, guard, prompt, sessions
from domain.tutor.budget import BudgetExhausted, DailyBudget
from domain.tutor.models import TutorMessage, TutorSession
from domain.tutor.providers import LocalTutor, OpenAIProvider
from domain.tutor.replay import ReplyLog, decode, stream_key
from tests.integration.tutor.conftest import make_course
from tests.unit.tutor.course_fixture import LESSONS
from tests.unit.tutor.test_guard import SOLUTION


@pytest.fixture
def r(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def course(database):
    return make_course(database.url, LESSONS)


def _ask(db_url, course, question, mode="explain", exercise_id=None):
    with unit_of_work(db_url) as s:
        sess = TutorSession(user_id=course["user_id"], course_id=course["course_id"], mode=mode,
                            exercise_id=exercise_id)
        s.add(sess)
        s.flush()
        # written as intake's message endpoint writes it (the reply is composed in-process: no job)
        sessions.target_for_post(s, sess.id).check(s)
        _, reply = sessions.add_turn(s, sess.id, question, new_id(), None)
        return reply["id"]


def _run(db_url, r, reply_id, provider_for=LocalTutor, limit=100_000, attempt=1):
    uow = functools.partial(unit_of_work, db_url)
    return engine.reply(uow, reply_id, provider_for=provider_for, out=ReplyLog(r, reply_id, 60),
                        budget=DailyBudget(r, limit), attempt=attempt)


def _events(r, reply_id):
    return [decode(fields) for _, fields in r.xrange(stream_key(reply_id))]


def _reply(db_url, reply_id) -> TutorMessage:
    with unit_of_work(db_url) as s:
        return s.get(TutorMessage, reply_id)


def test_offline_tutor_streams_answers_cites_and_persists(database, r, course):
    # Given a question the joins lesson answers, and no model key (the local tutor)
    reply_id = _ask(database.url, course, "What does a LEFT OUTER JOIN do when there is no match?")
    # When the reply is composed
    result = _run(database.url, r, reply_id)
    # Then it was streamed token by token, ended with done, and the stored reply is the same text
    events = _events(r, reply_id)
    kinds = [k for k, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("token") > 5
    streamed = "".join(d["text"] for k, d in events if k == "token")
    msg = _reply(database.url, reply_id)
    assert msg.status == "complete" and msg.content == streamed
    assert "fills the columns of the right table with NULL" in msg.content
    assert msg.citations[0]["lesson_id"] == course["lessons"]["joins"]
    assert result["citations"][0]["lesson_title"] == "Combining tables with joins"
    assert msg.provider == "local" and msg.completion_tokens > 0
    # and the learner's budget was charged with the reply's tokens
    assert DailyBudget(r, 1).used(course["user_id"]) == msg.prompt_tokens + msg.completion_tokens


def test_a_question_outside_the_course_says_so_without_calling_a_model(database, r, course):
    reply_id = _ask(database.url, course, "How do I bake sourdough bread?")

    def no_model(hits, question):
        raise AssertionError("the model must not be called")

    result = _run(database.url, r, reply_id, provider_for=no_model)
    msg = _reply(database.url, reply_id)
    assert msg.content == prompt.NOT_COVERED and msg.citations == []
    assert result["covered"] is False


def test_running_a_finished_reply_again_changes_nothing(database, r, course):
    reply_id = _ask(database.url, course, "What does COALESCE return?")
    first = _run(database.url, r, reply_id)
    entries = r.xlen(stream_key(reply_id))
    used = DailyBudget(r, 1).used(course["user_id"])
    second = _run(database.url, r, reply_id)
    assert second == first
    assert r.xlen(stream_key(reply_id)) == entries
    assert DailyBudget(r, 1).used(course["user_id"]) == used


def test_a_spent_budget_fails_the_reply_with_a_clear_error(database, r, course):
    budget = DailyBudget(r, 100)
    budget.charge(course["user_id"], "earlier-reply", 100)
    reply_id = _ask(database.url, course, "What is an index?")
    with pytest.raises(BudgetExhausted) as err:
        _run(database.url, r, reply_id, limit=100)
    assert "daily tutor budget is spent (100 of 100 tokens)" in str(err.value)
    msg = _reply(database.url, reply_id)
    assert msg.status == "failed" and msg.error.startswith("budget_exhausted")
    assert _events(r, reply_id)[-1] == ("error", {"code": "budget_exhausted", "message": err.value.message})


def test_budget_charges_each_reply_once(r):
    budget = DailyBudget(r, 1000)
    assert budget.charge("u-once", "reply-1", 300) == 300
    assert budget.charge("u-once", "reply-1", 300) == 300
    assert budget.charge("u-once", "reply-2", 200) == 500
    assert budget.remaining("u-once") == 500
    assert 0 < r.ttl(budget.key("u-once")) <= 2 * 24 * 3600


def test_hint_mode_never_streams_the_reference_solution(database, r, course, model_server, monkeypatch):
    # Given a hint session on an exercise whose solution a model knows and leaks
    monkeypatch.setattr(exercises, "reference_solution", lambda s, exercise_id: SOLUTION)
    model_server.known_solution = SOLUTION
    reply_id = _ask(database.url, course, "How do I filter rows with WHERE? !leak:lines", mode="hint",
                    exercise_id="ex1")
    provider = OpenAIProvider(api_key="k", base_url=model_server.base_url, model="m", request_timeout=10,
                              idle_timeout=2, max_retry_wait=2)
    # When the reply is composed
    _run(database.url, r, reply_id, provider_for=lambda hits, q: provider)
    # Then the model never got the solution, and nothing streamed or stored contains it
    assert model_server.count("return str(n)") == 0
    published = "".join(d.get("text", "") for k, d in _events(r, reply_id) if k == "token")
    assert published == guard.REFUSAL
    msg = _reply(database.url, reply_id)
    assert msg.blocked and msg.content == guard.REFUSAL


def test_provider_errors_fail_the_reply_and_tell_the_listener(database, r, course, model_server):
    reply_id = _ask(database.url, course, "What does COALESCE return? !quota")
    provider = OpenAIProvider(api_key="k", base_url=model_server.base_url, model="m", request_timeout=10,
                              idle_timeout=2, max_retry_wait=2)
    with pytest.raises(PermanentError) as err:
        _run(database.url, r, reply_id, provider_for=lambda hits, q: provider)
    assert err.value.code == "insufficient_quota"
    assert _events(r, reply_id)[-1][1]["code"] == "insufficient_quota"
    assert _reply(database.url, reply_id).status == "failed"


def test_a_reindexed_course_is_searched_with_its_new_passages(database, r, course):
    from domain.core.models import Lesson
    from domain.tutor import passages

    # Given a first reply, which leaves this process holding the course's index in its cache
    assert _run(database.url, r, _ask(database.url, course, "What does a LEFT OUTER JOIN do?"))["covered"]
    question = "What does the zygote clause of a quokka query do?"
    assert _run(database.url, r, _ask(database.url, course, question))["covered"] is False
    # When a lesson is rewritten and the course is re-indexed
    with unit_of_work(database.url) as s:
        lesson = s.get(Lesson, course["lessons"]["nulls"])
        lesson.content = "A quokka query ends with a zygote clause. The zygote clause of a quokka query sorts rows twice."
    with unit_of_work(database.url) as s:
        passages.index_course(s, course["course_id"])
    # Then the next reply is composed from the new passages, not the cached ones
    result = _run(database.url, r, _ask(database.url, course, question))
    assert result["covered"] is True
    assert result["citations"][0]["lesson_id"] == course["lessons"]["nulls"]


def test_the_history_read_fills_the_prompt_even_when_every_earlier_reply_failed(database, course):
    # Given a session whose earlier replies all failed (so only the learner's questions are history)
    from sqlalchemy import update

    with unit_of_work(database.url) as s:
        sess = TutorSession(user_id=course["user_id"], course_id=course["course_id"])
        s.add(sess)
        s.flush()
        for i in range(prompt.MAX_HISTORY + 2):
            _, failed = sessions.add_turn(s, sess.id, f"question {i}", new_id(), None)
            s.execute(update(TutorMessage).where(TutorMessage.id == failed["id"]).values(status="failed"))
        _, reply = sessions.add_turn(s, sess.id, "the question", new_id(), None)
    # When the reply's turn is loaded and its prompt built
    with unit_of_work(database.url) as s:
        turn = engine.load_turn(s, reply["id"])
    messages = prompt.build("SQL basics", [], turn.question, turn.history, "explain", None)
    # Then the prompt carries the question after as many earlier ones as it keeps
    assert [m["content"] for m in messages[1:]] == [f"question {i}" for i in range(2, prompt.MAX_HISTORY + 2)] + [
        "the question"]


def test_a_turn_is_read_and_its_reply_marked_by_one_statement_that_stands_alone(database, course):
    # Given a question waiting for its reply
    from sqlalchemy import event

    from domain.db import get_engine

    reply_id = _ask(database.url, course, "What does COALESCE return?")
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(get_engine(database.url), "before_cursor_execute", record)
    try:
        # When the worker loads the turn as engine.reply does
        with unit_of_work(database.url) as s:
            s.connection(execution_options=engine.AUTOCOMMIT)
            turn = engine.load_turn(s, reply_id)
            sent = list(statements)
            # Then the reply is marked streaming and committed at once (another connection sees it)
            assert _reply(database.url, reply_id).status == "streaming"
    finally:
        event.remove(get_engine(database.url), "before_cursor_execute", record)
    # by one statement that also read the question
    assert len(sent) == 1 and turn.question == "What does COALESCE return?"


class _Recording(redis.Redis):
    """Records the commands of each round trip (a pipeline is one)."""

    trips: list

    def execute_command(self, *args, **options):
        self.trips.append([args[0]])
        return super().execute_command(*args, **options)

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        def recorded(raise_on_error=True):
            self.trips.append([c[0][0] for c in pipe.command_stack])
            return execute(raise_on_error)

        pipe.execute = recorded
        return pipe


def test_the_charge_goes_with_done_in_one_round_trip_before_it(database, redis_server, course):
    # Given a question and a Redis client that records its round trips
    reply_id = _ask(database.url, course, "What does COALESCE return?")
    r = _Recording.from_url(redis_server.url)
    r.trips = []
    # When the reply is composed
    _run(database.url, r, reply_id)
    # Then the budget was reserved before the model, and the last round trip settled it, then wrote
    # done: no separate round trip for the charge
    last = r.trips[-1]
    assert last[0] == "EVAL" and last[-2:] == ["XADD", "EXPIRE"]
    assert sum(trip.count("EVAL") for trip in r.trips) == 2
    assert _events(r, reply_id)[-1][0] == "done"
    assert DailyBudget(r, 1).used(course["user_id"]) == _reply(database.url, reply_id).prompt_tokens + \
        _reply(database.url, reply_id).completion_tokens
    r.close()


def test_concurrent_reservations_never_take_a_learner_past_the_budget(r):
    import threading

    # Given a learner with 1,000 tokens left today and ten replies starting at once, each wanting 400
    budget = DailyBudget(r, 1000)
    user = f"u-{new_id()}"
    got: list[int] = []

    def start(i: int) -> None:
        try:
            got.append(budget.reserve(user, f"reply-{i}", 400, 100))
        except BudgetExhausted:
            pass

    threads = [threading.Thread(target=start, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then what was reserved fits in the budget, and settling costs above a reservation cannot exceed it
    assert 0 < sum(got) <= 1000 and len(got) >= 2
    for i in range(10):
        budget.settle(user, f"reply-{i}", 10_000)
    assert budget.used(user) <= 1000
    # And a reply run twice is settled once; a released reservation gives its tokens back
    assert budget.settle(user, "reply-0", 10_000) == 0



def test_a_failed_reply_releases_what_it_reserved(r):
    budget = DailyBudget(r, 1000)
    user = f"u-{new_id()}"
    assert budget.reserve(user, "fails", 700, 100) == 700
    assert budget.reserve(user, "fails", 700, 100) == 700          # a rerun finds its reservation
    assert budget.used(user) == 700
    budget.settle(user, "fails", 0)
    assert budget.used(user) == 0


def test_the_model_is_asked_for_no_more_than_the_learner_has_left(database, r, course, model_server):
    # Given a learner with only part of a reply's room left today
    reply_id = _ask(database.url, course, "What does a LEFT JOIN keep?")
    limit = 900
    DailyBudget(r, limit).charge(course["user_id"], "earlier", 500)
    provider = OpenAIProvider(api_key="k", base_url=model_server.base_url, model="m", request_timeout=10,
                              idle_timeout=2, max_retry_wait=2)
    # When the reply is composed
    _run(database.url, r, reply_id, provider_for=lambda hits, q: provider, limit=limit)
    # Then the model was asked for at most what is left after the prompt, and the day stays within the budget
    asked = model_server.requests[-1]["max_tokens"]
    assert 0 < asked < engine.MAX_REPLY_TOKENS
    assert DailyBudget(r, limit).used(course["user_id"]) <= limit
