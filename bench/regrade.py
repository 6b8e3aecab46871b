"""Regrade benchmark on PostgreSQL: set-based ``regrade_course`` against a naive per-learner ORM loop.

    .venv/bin/python bench/regrade.py [--learners 10000] [--items 20] [--chunk 500]

1. Creates a fresh database with one course, ``--learners`` enrolled learners and ``--items``
   graded items each (quiz / assignment / code, seeded scores), and computes everyone's grade.
2. Changes the category weights (what an instructor does before a regrade), then, on the same
   data, times
   - the naive baseline: for each learner, one unit of work that loads its items and its grade
     through the ORM, recomputes, saves and emits the events (what a per-learner task would do);
   - ``regrade_course`` (the code the ``regrade_course`` job runs): chunks of learners, one
     query for a chunk's items, one for its grades, one bulk upsert, events in the same unit.
   The course grades are restored to their pre-change values between the two, and the two
   results are compared row for row.
3. Prints both timings, learners per second and the ratio (target: regrade >= 10x faster).
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=20)
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


def run(url: str, args) -> None:
    from sqlalchemy import delete, insert, select

    from cli.services import migrate
    from domain.core.models import Course, Enrollment, User
    from domain.db import new_id, unit_of_work, utcnow
    from domain.grading import authoring, course_grades, recompute
    from domain.grading.models import CourseGrade, GradeItem
    from domain.jobs import service

    migrate(url)
    rnd = random.Random(7)
    categories = ["quiz", "assignment", "code"]
    t0 = time.perf_counter()
    with unit_of_work(url) as s:
        course = Course(slug="bench", title="Regrade bench")
        s.add(course)
        s.flush()
        course_id = course.id
        authoring.set_scheme(s, course_id, {"categories": {"quiz": {"weight": 30, "drop_lowest": 1},
                                                           "assignment": {"weight": 50}, "code": {"weight": 20}},
                                            "pass_threshold": 100})
        users = [{"id": new_id(), "email": f"b{i}@bench.test", "name": f"B{i}", "role": "student",
                  "timezone": "UTC", "locale": "en", "weekly_goal_minutes": 60, "created_at": utcnow()}
                 for i in range(args.learners)]
        s.execute(insert(User), users)
        s.execute(insert(Enrollment), [{"id": new_id(), "user_id": u["id"], "course_id": course_id, "status": "active",
                                        "enrolled_at": utcnow()} for u in users])
        batch = []
        for u in users:
            for j in range(args.items):
                batch.append({"id": new_id(), "user_id": u["id"], "course_id": course_id,
                              "category": categories[j % 3], "source_type": "bench", "source_id": f"item{j}",
                              "score": float(rnd.randrange(0, 100)), "max_score": 100.0, "updated_at": utcnow()})
            if len(batch) >= 20_000:
                s.execute(insert(GradeItem), batch)
                batch = []
        if batch:
            s.execute(insert(GradeItem), batch)

    def emit_factory(s):
        return lambda name, data, user_id: service.emit(s, None, name, data, user_id=user_id)

    recompute.regrade_course(lambda: unit_of_work(url), course_id, args.chunk, emit_factory)
    print(f"setup: {args.learners} learners x {args.items} items on PostgreSQL in {time.perf_counter() - t0:.1f}s",
          flush=True)

    # the instructor changes the weights
    with unit_of_work(url) as s:
        authoring.set_scheme(s, course_id, {"categories": {"quiz": {"weight": 40, "drop_lowest": 1},
                                                           "assignment": {"weight": 40}, "code": {"weight": 20}},
                                            "pass_threshold": 100})
        snapshot = [dict(r._mapping) for r in s.execute(select(CourseGrade.__table__))]

    def restore():
        with unit_of_work(url) as s:
            s.execute(delete(CourseGrade).where(CourseGrade.course_id == course_id))
            s.execute(insert(CourseGrade), snapshot)

    def grades():
        with unit_of_work(url) as s:
            return {r.user_id: (r.percent, r.letter, r.passed) for r in s.execute(
                select(CourseGrade.user_id, CourseGrade.percent, CourseGrade.letter, CourseGrade.passed)
                .where(CourseGrade.course_id == course_id))}

    # naive baseline: each learner loaded and saved through the ORM, one unit of work each
    with unit_of_work(url) as s:
        learners = recompute.course_learners(s, course_id)
    t = time.perf_counter()
    changed_naive = 0
    for user_id in learners:
        with unit_of_work(url) as s:
            scheme = recompute.load_scheme(s, course_id)
            rows = s.scalars(select(GradeItem).where(GradeItem.course_id == course_id, GradeItem.user_id == user_id))
            grade = course_grades.compute(scheme, [course_grades.Item(i.category, i.score, i.max_score) for i in rows])
            row = s.scalar(select(CourseGrade).where(CourseGrade.course_id == course_id,
                                                     CourseGrade.user_id == user_id))
            evs = recompute.grade_events(user_id, course_id, row.percent, row.passed, grade)
            if evs:
                changed_naive += 1
                row.percent, row.letter, row.passed, row.computed_at = grade.percent, grade.letter, grade.passed, utcnow()
            for name, data in evs:
                service.emit(s, None, name, data, user_id=user_id)
    naive = time.perf_counter() - t
    naive_grades = grades()

    restore()
    t = time.perf_counter()
    result = recompute.regrade_course(lambda: unit_of_work(url), course_id, args.chunk, emit_factory)
    fast = time.perf_counter() - t
    fast_grades = grades()

    same = naive_grades == fast_grades
    n = len(learners)
    print(f"learners: {n}, items per learner: {args.items}, chunk: {args.chunk}")
    print(f"grades changed: naive {changed_naive}, regrade {result['changed']}; identical results: {same}")
    print(f"naive per-learner ORM : {naive:8.2f}s  {n / naive:10.0f} learners/s")
    print(f"regrade_course (bulk) : {fast:8.2f}s  {n / fast:10.0f} learners/s")
    ratio = naive / fast
    print(f"ratio: {ratio:.1f}x faster (target >= 10x: {'met' if ratio >= 10 else 'NOT met'})")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
