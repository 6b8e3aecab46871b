"""Regrade benchmark on PostgreSQL: set-based ``regrade_course`` against a naive per-learner ORM loop.

    .venv/bin/python bench/regrade.py [--learners 10000] [--quizzes 6] [--assignments 6] [--code 8] [--chunk 500]

1. Creates a fresh database with one course and ``--learners`` enrolled learners, each with two
   graded attempts of every quiz, a graded submission of every assignment and ``--code``
   code-exercise items (seeded scores), and computes everyone's items and grade.
2. The instructor changes the category weights and two quizzes' attempt policy (best → average),
   then, on the same data, times
   - the naive baseline: for each learner, one unit of work that locks its grade row, rebuilds its
     quiz items from its attempts and its assignment items from its submissions, loads its items
     and its grade through the ORM, recomputes, saves and emits the events (what a per-learner
     task would do);
   - ``regrade_course`` (the code the ``regrade_course`` job runs): chunks of learners, each
     locked, its attempts, submissions, items and grades read in a few set-based statements, the
     items and grades that changed written in bulk, events in the same unit of work.
   Items and grades are restored to their pre-change values between the two, and the two results
   are compared row for row.
3. Prints both timings, learners per second and the ratio (target: regrade >= 25x faster).
The pass threshold is 100 so no ``course.passed`` fires (its reactions would time other families).
Not a test: figures depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("COURSEWORK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


TARGET = 25.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=10_000)
    ap.add_argument("--quizzes", type=int, default=6)
    ap.add_argument("--assignments", type=int, default=6)
    ap.add_argument("--code", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = ap.parse_args()

    import psycopg

    name = f"cw_bench_regrade_{secrets.token_hex(3)}"
    dsn = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    os.environ["COURSEWORK_DATABASE_URL"] = url
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        run(url, args)
    finally:
        if not args.keep:
            from domain.db import get_engine

            get_engine(url).dispose()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SCHEME = {"categories": {"quiz": {"weight": 30, "drop_lowest": 1}, "assignment": {"weight": 50},
                         "code": {"weight": 20}}, "pass_threshold": 100}
CHANGED = {"categories": {"quiz": {"weight": 40, "drop_lowest": 1}, "assignment": {"weight": 40},
                          "code": {"weight": 20}}, "pass_threshold": 100}


def seed(url: str, args) -> str:
    """The course, its learners, quizzes with two graded attempts each, graded submissions, code items."""
    from sqlalchemy import insert

    from domain.core.models import Course, Enrollment, User
    from domain.db import new_id, unit_of_work, utcnow
    from domain.grading import authoring
    from domain.grading.models import GradeItem, QuizAttempt, Submission

    rnd = random.Random(7)
    now = utcnow()
    with unit_of_work(url) as s:
        course = Course(slug="bench", title="Regrade bench")
        s.add(course)
        s.flush()
        authoring.set_scheme(s, course.id, SCHEME)
        quiz_ids = [authoring.create_quiz(s, course.id, f"Quiz {q}", [
            {"points": 10, "spec": {"type": "true_false", "correct": True}}]).id for q in range(args.quizzes)]
        assignment_ids = [authoring.create_assignment(s, course.id, f"Essay {a}", [
            {"id": "all", "levels": [{"id": f"l{p}", "points": p} for p in range(11)]}]).id
            for a in range(args.assignments)]
        course_id = course.id
    users = [{"id": new_id(), "email": f"b{i}@bench.test", "name": f"B{i}", "role": "student", "timezone": "UTC",
              "locale": "en", "weekly_goal_minutes": 60, "created_at": now} for i in range(args.learners)]
    for start in range(0, len(users), 2000):
        part = users[start:start + 2000]
        with unit_of_work(url) as s:
            s.execute(insert(User), part)
            s.execute(insert(Enrollment), [{"id": new_id(), "user_id": u["id"], "course_id": course_id,
                                            "status": "active", "enrolled_at": now} for u in part])
            s.execute(insert(QuizAttempt), [
                {"id": new_id(), "quiz_id": q, "user_id": u["id"], "number": n, "started_at": now, "submitted_at": now,
                 "status": "graded", "answers": [], "results": [], "score": float(rnd.randrange(0, 11)),
                 "max_score": 10.0} for u in part for q in quiz_ids for n in (1, 2)])
            s.execute(insert(Submission), [
                {"id": new_id(), "assignment_id": a, "user_id": u["id"], "status": "graded", "content": "",
                 "submitted_at": now, "revision": 0, "raw_score": score, "late_penalty_percent": 0.0,
                 "score": score, "max_score": 10.0, "feedback": "", "graded_at": now}
                for u in part for a in assignment_ids for score in [float(rnd.randrange(0, 11))]])
            s.execute(insert(GradeItem), [
                {"id": new_id(), "user_id": u["id"], "course_id": course_id, "category": "code",
                 "source_type": "code_exercise", "source_id": f"ex{j}", "score": float(rnd.randrange(0, 101)),
                 "max_score": 100.0, "updated_at": now} for u in part for j in range(args.code)])
    return course_id


def naive_regrade(url: str, course_id: str) -> int:
    """The per-learner loop: one unit of work per learner, everything through the ORM."""
    from sqlalchemy import select

    from domain.db import unit_of_work, utcnow
    from domain.grading import course_grades, gradebook, policies, quizzes, recompute
    from domain.grading.models import Assignment, CourseGrade, GradeItem, Quiz, Submission
    from domain.jobs import enqueueing

    with unit_of_work(url) as s:
        learners = recompute.course_learners(s, course_id)
    changed = 0
    for user_id in learners:
        with unit_of_work(url) as s:
            row = s.scalar(select(CourseGrade).where(CourseGrade.course_id == course_id,
                                                     CourseGrade.user_id == user_id).with_for_update())
            for quiz in s.scalars(select(Quiz).where(Quiz.course_id == course_id)):
                quizzes.refresh_quiz_item(s, quiz, user_id)
            for assignment in s.scalars(select(Assignment).where(Assignment.course_id == course_id)):
                sub = s.scalar(select(Submission).where(Submission.assignment_id == assignment.id,
                                                        Submission.user_id == user_id))
                if sub is not None and sub.score is not None:
                    gradebook.upsert_item(s, user_id=user_id, course_id=course_id, category=assignment.category,
                                          source_type="assignment", source_id=assignment.id,
                                          score=policies.assignment_points(sub.score, sub.max_score, sub.peer_score,
                                                                           assignment.peer_weight),
                                          max_score=sub.max_score)
            scheme = recompute.load_scheme(s, course_id)
            items = s.scalars(select(GradeItem).where(GradeItem.course_id == course_id, GradeItem.user_id == user_id))
            grade = course_grades.compute(scheme, [course_grades.Item(i.category, i.score, i.max_score) for i in items])
            evs = recompute.grade_events(user_id, course_id, row.percent, row.passed, grade)
            if evs:
                changed += 1
                row.percent, row.letter, row.passed, row.computed_at = grade.percent, grade.letter, grade.passed, utcnow()
            for name, data in evs:
                enqueueing.emit(s, None, name, data, user_id=user_id)
    return changed


def run(url: str, args) -> None:
    from sqlalchemy import delete, insert, select, update

    from cli.services import migrate
    from domain.db import unit_of_work
    from domain.grading import authoring, recompute
    from domain.grading.models import CourseGrade, GradeItem, Quiz
    from domain.jobs import enqueueing

    migrate(url)
    t0 = time.perf_counter()
    course_id = seed(url, args)

    def emit_factory(s):
        return lambda name, data, user_id: enqueueing.emit(s, None, name, data, user_id=user_id)

    recompute.regrade_course(lambda: unit_of_work(url), course_id, args.chunk, emit_factory)
    items_per_learner = args.quizzes + args.assignments + args.code
    print(f"setup: {args.learners} learners x {items_per_learner} items ({args.quizzes} quizzes x 2 attempts, "
          f"{args.assignments} assignments, {args.code} code) on PostgreSQL in {time.perf_counter() - t0:.1f}s",
          flush=True)

    # the instructor changes the weights and two quizzes' attempt policy
    with unit_of_work(url) as s:
        authoring.set_scheme(s, course_id, CHANGED)
        two = list(s.scalars(select(Quiz.id).where(Quiz.course_id == course_id).order_by(Quiz.id).limit(2)))
        s.execute(update(Quiz).where(Quiz.id.in_(two)).values(attempt_policy="average"))
        grades_before = [dict(r._mapping) for r in s.execute(
            select(CourseGrade.__table__).where(CourseGrade.course_id == course_id))]
        items_before = [dict(r._mapping) for r in s.execute(
            select(GradeItem.__table__).where(GradeItem.course_id == course_id))]

    def restore():
        with unit_of_work(url) as s:
            s.execute(delete(CourseGrade).where(CourseGrade.course_id == course_id))
            s.execute(delete(GradeItem).where(GradeItem.course_id == course_id))
            s.execute(insert(CourseGrade), grades_before)
            for start in range(0, len(items_before), 20_000):
                s.execute(insert(GradeItem), items_before[start:start + 20_000])

    def state():
        with unit_of_work(url) as s:
            grades = {r.user_id: (r.percent, r.letter, r.passed) for r in s.execute(
                select(CourseGrade.user_id, CourseGrade.percent, CourseGrade.letter, CourseGrade.passed)
                .where(CourseGrade.course_id == course_id))}
            items = {(r.user_id, r.source_type, r.source_id): (r.category, round(r.score, 9), r.max_score)
                     for r in s.execute(select(GradeItem.user_id, GradeItem.source_type, GradeItem.source_id,
                                               GradeItem.category, GradeItem.score, GradeItem.max_score)
                                        .where(GradeItem.course_id == course_id))}
            return grades, items

    t = time.perf_counter()
    changed_naive = naive_regrade(url, course_id)
    naive = time.perf_counter() - t
    naive_state = state()

    restore()
    t = time.perf_counter()
    result = recompute.regrade_course(lambda: unit_of_work(url), course_id, args.chunk, emit_factory)
    fast = time.perf_counter() - t
    fast_state = state()

    same = naive_state == fast_state
    n = result["learners"]
    print(f"learners: {n}, chunk: {args.chunk}")
    print(f"grades changed: naive {changed_naive}, regrade {result['changed']}; items rewritten by regrade: "
          f"{result['items_changed']}; identical items and grades: {same}")
    print(f"naive per-learner ORM : {naive:8.2f}s  {n / naive:10.0f} learners/s")
    print(f"regrade_course (bulk) : {fast:8.2f}s  {n / fast:10.0f} learners/s")
    ratio = naive / fast
    print(f"ratio: {ratio:.1f}x faster (target >= {TARGET:.0f}x: {'met' if ratio >= TARGET else 'NOT met'})")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
