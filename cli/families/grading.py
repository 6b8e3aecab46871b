"""`coursework grading ...` subcommands and the demo step of the grading family.

    coursework grading grade USER_ID COURSE_ID     # the learner's course grade and gradebook
    coursework grading regrade COURSE_ID           # enqueue regrade_course (after a key/weight change)
"""
from __future__ import annotations

import json
import time


def cmd_grading(args) -> int:
    from sqlalchemy import select

    from celeryconfig import settings
    from domain.db import unit_of_work
    from domain.grading.api import course_grade
    from domain.grading.models import GradeItem

    if args.action == "regrade":
        from domain.jobs import enqueueing

        with unit_of_work(settings.database_url) as s:
            job, _ = enqueueing.enqueue(s, "regrade_course", {"course_id": args.ids[0]}, caller="cli")
            job_id = job.id
        print(json.dumps({"job_id": job_id, "kind": "regrade_course"}))
        return 0
    if len(args.ids) != 2:
        print("give USER_ID COURSE_ID")
        return 2
    user_id, course_id = args.ids
    with unit_of_work(settings.database_url) as s:
        grade = course_grade(s, user_id, course_id)
        items = [{"category": i.category, "source": f"{i.source_type}:{i.source_id}", "score": i.score,
                  "max": i.max_score} for i in s.scalars(select(GradeItem).where(
                      GradeItem.user_id == user_id, GradeItem.course_id == course_id).order_by(GradeItem.category))]
    print(json.dumps({"grade": grade, "items": items}, indent=2, default=str))
    return 0 if grade else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("grading", help="show a learner's course grade; regrade a course")
    p.add_argument("action", choices=["grade", "regrade"], help="grade: show a course grade; regrade: recompute a course")
    p.add_argument("ids", nargs="+", help="grade: USER_ID COURSE_ID; regrade: COURSE_ID")
    p.set_defaults(fn=cmd_grading)


def _wait_grade(url: str, user_id: str, course_id: str, timeout: float = 30.0):
    from sqlalchemy import select

    from domain.db import unit_of_work
    from domain.grading.models import CourseGrade

    deadline = time.time() + timeout
    while time.time() < deadline:
        with unit_of_work(url) as s:
            row = s.scalar(select(CourseGrade).where(CourseGrade.user_id == user_id, CourseGrade.course_id == course_id))
            if row is not None and not row.dirty and row.percent is not None:
                return row.percent, row.letter, row.passed
        time.sleep(0.3)
    return None


def demo(d) -> bool:
    """A quiz, an essay graded on a rubric (a day late), a code score from the sandbox's event,
    the coalesced course grade, then an answer-key fix and a regrade."""
    from domain.core.models import Course, Enrollment, User
    from datetime import timedelta

    from domain.db import unit_of_work, utcnow
    from domain.grading import assignments, authoring, quizzes
    from intake.client import ApiError

    with unit_of_work(d.db_url) as s:
        course = Course(slug="grading-demo", title="Statistics 101")
        ada, bob = User(email="ada@grading.demo", name="Ada"), User(email="bob@grading.demo", name="Bob")
        s.add_all([course, ada, bob])
        s.flush()
        s.add_all([Enrollment(user_id=u.id, course_id=course.id) for u in (ada, bob)])
        authoring.set_scheme(s, course.id, {"categories": {"quiz": {"weight": 30}, "assignment": {"weight": 50},
                                                           "code": {"weight": 20}}, "pass_threshold": 60})
        quiz = authoring.create_quiz(s, course.id, "Means and medians", [
            {"points": 2, "spec": {"type": "numeric", "value": 2.5, "abs_tolerance": 0.01}},
            {"points": 1, "spec": {"type": "multiple_choice", "options": ["mean", "median", "mode", "sum"],
                                   "correct": [1, 2]}},
            {"points": 1, "spec": {"type": "short_text", "accepted": ["standard deviation"]}}], max_attempts=2)
        q = [x.id for x in quizzes.questions_of(s, quiz.id)]
        attempts = {u.id: quizzes.start_attempt(s, quiz.id, u.id).id for u in (ada, bob)}
        essay = authoring.create_assignment(s, course.id, "Essay", [
            {"id": "argument", "levels": [{"id": "weak", "points": 2}, {"id": "strong", "points": 6}]},
            {"id": "sources", "levels": [{"id": "none", "points": 0}, {"id": "cited", "points": 4}]}],
            due_at=utcnow() - timedelta(hours=20), late_policy={"grace_minutes": 60, "percent_per_day": 10,
                                                                "hard_cutoff_hours": 72})
        subs = {u.id: assignments.submit(s, essay.id, u.id, "My essay").id for u in (ada, bob)}
        ids = {"course": course.id, "ada": ada.id, "bob": bob.id, "quiz": quiz.id, "q": q}
    ok = True
    answers = {ids["ada"]: [2.5, [1, 2], "Standard   Deviation"], ids["bob"]: [2.0, [1, 3], "variance"]}
    for user, values in answers.items():
        job = d.run("grade_quiz", {"attempt_id": attempts[user],
                                   "answers": [{"question_id": qid, "value": v} for qid, v in zip(q, values)]})
        ok &= job["state"] == "succeeded"
        d.say(f"grade_quiz {job['state']}: {job['result']['score']}/{job['result']['max_score']} "
              f"{[r['feedback'] for r in job['result']['results']]}")
    for user, levels in ((ids["ada"], ("strong", "cited")), (ids["bob"], ("weak", "none"))):
        job = d.run("grade_assignment", {"submission_id": subs[user], "feedback": "thanks",
                                         "rubric": {"argument": levels[0], "sources": levels[1]}})
        ok &= job["state"] == "succeeded"
        r = job["result"]
        d.say(f"grade_assignment {job['state']}: raw {r['raw_score']}/{r['max_score']}, "
              f"late -{r['late_penalty_percent']}% -> {r['score']}")
    job = d.run("record_code_score", {"user_id": ids["ada"], "course_id": ids["course"], "exercise_id": "mean-fn",
                                      "submission_id": "demo-sub-1", "score": 90})
    ok &= job["state"] == "succeeded"
    try:
        d.client.enqueue("grade_assignment", {"submission_id": subs[ids["bob"]],
                                              "rubric": {"argument": "brilliant", "sources": "cited"}})
        ok = False
        d.say("an unknown rubric level was accepted")
    except ApiError as exc:
        d.say(f"unknown rubric level refused before enqueue: {exc.status} {exc.details}")
    for name in ("ada", "bob"):
        grade = _wait_grade(d.db_url, ids[name], ids["course"])
        ok &= grade is not None
        d.say(f"course grade {name}: {grade}")
    with unit_of_work(d.db_url) as s:   # the key of question 3 also accepts "variance" now
        authoring.update_question_spec(s, q[2], {"type": "short_text", "accepted": ["standard deviation", "variance"]})
    job = d.run("regrade_course", {"course_id": ids["course"]})
    ok &= job["state"] == "succeeded"
    r = job["result"]
    d.say(f"regrade_course {job['state']}: {r['learners']} learners, {r['rescored_attempts']} attempts rescored, "
          f"{r['items_changed']} items and {r['changed']} grades changed {r['grade_changes']}")
    grade = _wait_grade(d.db_url, ids["bob"], ids["course"])
    d.say(f"course grade bob after regrade: {grade}")
    return bool(ok)
