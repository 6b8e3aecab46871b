"""Course grades: code scores from sandbox events, coalesced recomputes, course.passed, regrade."""
import threading

from sqlalchemy import select

from domain.db import unit_of_work
from domain.grading import authoring, gradebook, quizzes, recompute
from domain.grading.models import CourseGrade, GradeItem, QuizAttempt
from domain.jobs import enqueueing
from tests.integration.grading.conftest import events, jobs_of, make_course, settled_grade, wait_until
from tests.support.control import RecordingControl
from tests.support.jobs import run_job


def _evaluated(url, user, course_id, exercise, submission, score):
    """What the sandbox family emits when it has scored a code submission."""
    with unit_of_work(url) as s:
        enqueueing.emit(s, None, "submission.evaluated", {
            "user_id": user, "exercise_id": exercise, "submission_id": submission, "course_id": course_id,
            "lesson_id": None, "score": score, "attempt": 1}, user_id=user)


def test_a_burst_of_code_scores_causes_one_recompute_and_course_passed(api, database):
    # Given a course graded only on code exercises (pass at 60 %)
    course = make_course(database.url, learners=1, scheme={"categories": {"code": {"weight": 1, "expected": 5}},
                                                           "pass_threshold": 60})
    learner = course.learners[0]
    # When the sandbox reports five scored submissions in a burst (one of them twice: a redelivery)
    for i, score in enumerate([100, 80, 60, 90, 70]):
        _evaluated(course.url, learner, course.course_id, f"ex{i}", f"sub-{course.course_id}-{i}", score)
    _evaluated(course.url, learner, course.course_id, "ex0", f"sub-{course.course_id}-0", 100)
    # Then each submission is recorded once (idempotency key from the submission id)
    records = wait_until(lambda: [j for j in jobs_of(course.url, "record_code_score", user_id=learner)
                                  if j.state == "succeeded"] if len(jobs_of(course.url, "record_code_score",
                                                                            user_id=learner)) == 5 and all(
        j.state == "succeeded" for j in jobs_of(course.url, "record_code_score", user_id=learner)) else None,
        what="five recorded code scores")
    assert len(records) == 5
    # And the burst causes exactly one recompute, which sees all five scores: mean 80 %
    grade = settled_grade(course.url, learner, course.course_id)
    recomputes = jobs_of(course.url, "recompute_course_grade", user_id=learner)
    assert len(recomputes) == 1 and recomputes[0].attempts == 1, [(j.state, j.payload) for j in recomputes]
    assert (grade.percent, grade.letter, grade.passed) == (80.0, "B", True)
    # And course.passed was announced once, with percent and letter
    assert events(course.url, "course.passed", learner) == [
        {"user_id": learner, "course_id": course.course_id, "percent": 80.0, "letter": "B"}]
    assert events(course.url, "course_grade.changed", learner)[-1]["new"] == 80.0


def test_concurrent_grade_changes_schedule_one_recompute(database):
    # Given one learner, When eight grade changes commit at the same time from eight threads
    course = make_course(database.url, learners=1)
    learner = course.learners[0]
    barrier = threading.Barrier(8)
    scheduled = []

    def change(i):
        barrier.wait()
        with unit_of_work(course.url) as s:
            gradebook.record_code_score(s, user_id=learner, course_id=course.course_id, exercise_id=f"e{i}",
                                        score=50, max_score=100)
            scheduled.append(gradebook.schedule_recompute(s, learner, course.course_id, delay_seconds=3600))

    threads = [threading.Thread(target=change, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly one of them scheduled the (delayed) recompute; the others found it pending
    assert len([j for j in scheduled if j]) == 1, scheduled
    assert len(jobs_of(course.url, "recompute_course_grade", user_id=learner)) == 1
    # And a change after a recompute cleared the row schedules the next one
    with unit_of_work(course.url) as s:
        s.execute(CourseGrade.__table__.update().where(CourseGrade.user_id == learner).values(dirty=False))
    with unit_of_work(course.url) as s:
        assert gradebook.schedule_recompute(s, learner, course.course_id, delay_seconds=3600) is not None


def test_regrade_after_an_answer_key_change_rescores_and_recomputes_everyone(api, database):
    # Given a quiz-only course, three learners who answered "4", and a wrong answer key ("5")
    course = make_course(database.url, learners=3, scheme={"categories": {"quiz": {"weight": 1}}})
    with unit_of_work(course.url) as s:
        quiz = authoring.create_quiz(s, course.course_id, "Sums", [
            {"points": 1, "spec": {"type": "single_choice", "options": ["3", "4", "5"], "correct": 2}},
            {"points": 1, "spec": {"type": "true_false", "correct": True}}])
        q1, q2 = [q.id for q in quizzes.questions_of(s, quiz.id)]
        attempts = [quizzes.start_attempt(s, quiz.id, u).id for u in course.learners]
    for attempt in attempts:
        assert run_job(api, "grade_quiz", {"attempt_id": attempt, "answers": [
            {"question_id": q1, "value": 1}, {"question_id": q2, "value": True}]})["result"]["score"] == 1
    for u in course.learners:
        assert settled_grade(course.url, u, course.course_id).percent == 50.0
    # When the key is fixed and the course regraded
    with unit_of_work(course.url) as s:
        authoring.update_question_spec(s, q1, {"type": "single_choice", "options": ["3", "4", "5"], "correct": 1})
    job = run_job(api, "regrade_course", {"course_id": course.course_id})
    # Then every attempt is rescored and every learner's grade moved to 100 %, with events
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert {k: result[k] for k in ("course_id", "learners", "changed", "items_changed", "rescored_attempts")} == {
        "course_id": course.course_id, "learners": 3, "changed": 3, "items_changed": 3, "rescored_attempts": 3}
    assert sorted(c["user_id"] for c in result["grade_changes"]) == sorted(course.learners)
    assert {(c["old"], c["new"]) for c in result["grade_changes"]} == {(50.0, 100.0)}
    assert {(c["source_type"], c["source_id"], c["old"], c["new"]) for c in result["item_changes"]} == {
        ("quiz", quiz.id, 1.0, 2.0)}
    assert job["progress"] == 100
    with unit_of_work(course.url) as s:
        assert {a.score for a in s.scalars(select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id))} == {2.0}
        assert {g.percent for g in s.scalars(select(CourseGrade).where(CourseGrade.course_id == course.course_id))} \
            == {100.0}
        assert {i.score for i in s.scalars(select(GradeItem).where(GradeItem.source_id == quiz.id))} == {2.0}
    for u in course.learners:
        changed = events(course.url, "course_grade.changed", u)[-1]
        assert (changed["old"], changed["new"], changed["letter"]) == (50.0, 100.0, "A")
        assert len(events(course.url, "course.passed", u)) == 1
    progress = [e["progress"] for e in events(course.url, "job.progress") if e.get("message", "").endswith("learners")]
    assert progress and progress[-1] == 100
    # And a second regrade finds nothing to change and announces nothing
    again = run_job(api, "regrade_course", {"course_id": course.course_id})
    assert again["result"]["changed"] == 0 and again["result"]["rescored_attempts"] == 0
    assert again["result"]["items_changed"] == 0 and again["result"]["grade_changes"] == []
    assert len(events(course.url, "course_grade.changed", course.learners[0])) == 2
    # And an unknown course is refused at intake
    r = api.post("/v1/jobs", json={"kind": "regrade_course", "payload": {"course_id": "nope"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "course_id"


def test_regrade_walks_the_course_in_chunks_with_progress(database):
    # Given five learners with a code score each, no grade computed yet
    course = make_course(database.url, learners=5, scheme={"categories": {"code": {"weight": 1}}})
    with unit_of_work(course.url) as s:
        for i, u in enumerate(course.learners):
            gradebook.record_code_score(s, user_id=u, course_id=course.course_id, exercise_id="e", score=20 * i,
                                        max_score=100)
    control, emitted = RecordingControl(), []

    def emit_factory(s):
        return lambda name, data, user_id: emitted.append((name, user_id))

    # When the course is regraded two learners at a time
    result = recompute.regrade_course(lambda: unit_of_work(course.url), course.course_id, 2, emit_factory,
                                      control=control)
    # Then three chunks report progress, every learner has a grade and one change event
    assert (result["learners"], result["changed"], result["items_changed"]) == (5, 5, 0)
    assert [(round(pct), msg) for pct, msg in control.reports] == [(40, "2/5 learners"), (80, "4/5 learners"),
                                                                  (100, "5/5 learners")]
    with unit_of_work(course.url) as s:
        percents = sorted(g.percent for g in s.scalars(select(CourseGrade)
                                                       .where(CourseGrade.course_id == course.course_id)))
    assert percents == [0, 20, 40, 60, 80]
    assert sorted(u for name, u in emitted if name == "course_grade.changed") == sorted(course.learners)
    assert len([1 for name, _ in emitted if name == "course.passed"]) == 2     # 60 % and 80 % pass
