"""Certificates benchmark: renders per second by one worker, and the bulk job end to end.

    .venv/bin/python bench/certificates.py [--learners 2000] [--chunk 200]

Every name goes through the full text pipeline (bidi, font chain, HarfBuzz shaping, wrapping):
the learners' names cycle through every script of the contact sheet (Devanagari, Arabic with
harakat, Thai, CJK, emoji ...), so shaping is on in both the job and the baseline.

1. Starts a private stack: a fresh PostgreSQL database, a private redis-server, an S3 server
   (moto) on loopback, one Celery worker process on the ``certificates`` queue with
   concurrency 1 (one worker), and the intake API.
2. Creates one course with ``--learners`` eligible learners (two required lessons done, a
   passing course grade), then times the ``certify_course`` job end to end: enqueue over HTTP
   → chunks of claims, PDF + PNG preview rendering, two S3 uploads, signing, events → succeeded.
3. Baseline, in this process: render the same certificates (same names, URLs; PDF + PNG
   preview, which the job also produces) in a plain loop, with no database, queue or storage,
   once before the job (fresh ids of the same format) and once after (the job's ids); the mean
   of the two is the baseline, so a change in the machine's load during the run biases neither.
4. Prints both, certificates per second, and the ratio bulk / plain loop (target <= 1.3).
Not a test: figures depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def make_course(db_url: str, learners: int) -> str:
    from domain.core.models import Course, Enrollment, Lesson, LessonProgress, LessonType, Module, User
    from domain.db import unit_of_work, utcnow
    from domain.grading.models import CourseGrade

    from tests.unit.certificates.scripts import LONG_NAME, SAMPLES

    # names in every script the renderer supports (shaped by HarfBuzz), one long name that wraps
    names = [name for name, _ in SAMPLES.values() if name != LONG_NAME] + [LONG_NAME]
    with unit_of_work(db_url) as s:
        teacher = User(email="teacher@bench.local", name="Ada Lovelace", role="instructor")
        s.add(teacher)
        s.flush()
        course = Course(slug="bench-certificates", title="Intro to Algorithms", instructor_id=teacher.id)
        module = Module(title="Week 1", position=1)
        course.modules.append(module)
        module.lessons.extend([Lesson(title=f"Lesson {i}", position=i, type=LessonType.article) for i in range(2)])
        s.add(course)
        s.flush()
        now = utcnow()
        users = [User(email=f"l{i}@bench.local", name=f"{names[i % len(names)]} {i}") for i in range(learners)]
        s.add_all(users)
        s.flush()
        for u in users:
            s.add(Enrollment(user_id=u.id, course_id=course.id))
            for lesson in module.lessons:
                s.add(LessonProgress(user_id=u.id, lesson_id=lesson.id, completed_at=now))
            s.add(CourseGrade(user_id=u.id, course_id=course.id, percent=85.0, letter="B", passed=True,
                              computed_at=now))
        return course.id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=2000)
    ap.add_argument("--chunk", type=int, default=200)
    args = ap.parse_args()

    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    from cli.services import RedisServer, free_port
    from tests.support.stack import Database, S3Server, Stack

    db = Database(f"cw_bench_cert_{os.getpid()}").create()
    redis = RedisServer().start()
    s3 = S3Server(free_port()).start()
    stack = None
    try:
        from domain.storage import S3Storage

        S3Storage("coursework-test", endpoint_url=s3.endpoint).ensure_bucket()
        stack = Stack(db, redis.url, s3.endpoint)
        stack.start_worker(queues="certificates,maintenance", concurrency=1, name="bench-cert")
        stack.start_intake()
        key = stack.create_key()
        course_id = make_course(db.url, args.learners)
        print(f"learners: {args.learners}, chunk: {args.chunk}, one worker process (concurrency 1)", flush=True)

        from sqlalchemy import select

        from domain.certificates import records
        from domain.certificates.models import Certificate, new_certificate_id
        from domain.certificates.render import CertificateView, render_pdf, render_png
        from domain.core.models import User
        from domain.db import unit_of_work
        from intake.client import CourseworkClient

        base_url = stack.env().get("COURSEWORK_PUBLIC_BASE_URL", "http://127.0.0.1:8000")   # the worker's

        def plain_loop(views) -> float:
            started = time.perf_counter()
            for v in views:
                render_png(render_pdf(v))
            return time.perf_counter() - started

        # --- baseline before: the same certificates (ids not known yet: fresh ones, same format) ---
        with unit_of_work(db.url) as s:
            names = list(s.scalars(select(User.name).where(User.email.like("%@bench.local"), User.role == "student")
                                   .order_by(User.name)))
        before_views = []
        for name in names:
            cid = new_certificate_id()
            before_views.append(CertificateView(cid, name, "Intro to Algorithms", "Ada Lovelace", "2026-11-24",
                                                records.verify_url(base_url, cid)))
        render_pdf(before_views[0])                            # fonts loaded once, as in a warm worker
        loop_before = plain_loop(before_views)

        # --- the bulk job, end to end through intake --------------------------------------------
        with CourseworkClient(stack.intake_url, key, timeout=60) as client:
            started = time.perf_counter()
            job = client.enqueue("certify_course", {"course_id": course_id, "chunk_size": args.chunk})
            job = client.wait(job["id"], timeout=3600, interval=0.5)
            bulk = time.perf_counter() - started
        assert job["state"] == "succeeded", job
        assert job["result"]["issued"] == args.learners, job["result"]

        # --- baseline after: exactly the PDFs the job produced -------------------------------------
        with unit_of_work(db.url) as s:
            views = [records.view(c, base_url) for c in s.scalars(
                select(Certificate).where(Certificate.course_id == course_id).order_by(Certificate.id))]
        loop_after = plain_loop(views)
        loop = (loop_before + loop_after) / 2       # before + after: fair when the machine's load drifts
        started = time.perf_counter()
        for v in views[: max(1, len(views) // 4)]:
            render_pdf(v)
        pdf_only = (time.perf_counter() - started) / max(1, len(views) // 4)

        n = args.learners
        print(f"bulk certify_course end to end : {bulk:8.2f} s  = {n / bulk:6.2f} certificates/s by one worker")
        print(f"plain loop (PDF + PNG preview) : {loop:8.2f} s  = {n / loop:6.2f} renders/s "
              f"(before the job {loop_before:.2f} s, after {loop_after:.2f} s)")
        print(f"PDF alone                      : {pdf_only * 1000:8.1f} ms = {1 / pdf_only:6.2f} renders/s")
        print(f"ratio bulk / plain loop        : {bulk / loop:8.2f}  (target <= 1.3)")
    finally:
        if stack:
            stack.stop()
        s3.stop()
        redis.stop()
        from domain.db import get_engine

        get_engine(db.url).dispose()
        db.drop()


if __name__ == "__main__":
    main()
