"""Issue certificates: decide eligibility, claim one row per learner and course, render, store,
sign. Batched so a bulk run costs a few queries per chunk, not per learner.

Safe to run twice: the row is claimed under the (user, course) unique constraint first
(``pending``), files go to deterministic keys, and the row flips to ``issued`` (with the
``certificate.issued`` event) only once, under a row lock.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.certificates import records, render, status_list
from domain.certificates.eligibility import Rule, decide
from domain.certificates.models import Certificate, CertificateRule
from domain.certificates.signing import SigningKey
from domain.core.models import Course, Enrollment, Lesson, LessonProgress, Module, User
from domain.db import utcnow
from domain.jobs.errors import InvalidPayload
from domain.storage import Storage

EmitFn = Callable[[Session, str, dict, str | None], None]
GradeFn = Callable[[Session, str, str], "dict | None"]


def _grade_of(session: Session, user_id: str, course_id: str) -> dict | None:
    from domain.grading.api import course_grade

    return course_grade(session, user_id, course_id)


@dataclass
class Outcome:
    user_id: str
    status: str                       # issued | existing | not_eligible | unprintable
    certificate_id: str | None = None
    reasons: list[str] = field(default_factory=list)


def load_rule(session: Session, course_id: str) -> Rule:
    row = session.get(CertificateRule, course_id)
    if row is None:
        return Rule()
    return Rule(enabled=row.enabled, min_percent=row.min_percent,
                required_lesson_ids=tuple(row.required_lesson_ids or ()), show_grade=row.show_grade,
                page_size=row.page_size)


def required_lessons(session: Session, course_id: str) -> set[str]:
    return set(session.scalars(select(Lesson.id).join(Module, Lesson.module_id == Module.id)
                               .where(Module.course_id == course_id, Lesson.required.is_(True))))


@dataclass
class Issuer:
    uow: Callable[[], AbstractContextManager[Session]]
    storage: Storage
    key: SigningKey
    base_url: str
    page_size: str = "A4"
    emit: EmitFn = lambda session, name, data, user_id: None
    grade_of: GradeFn = _grade_of
    png_dpi: int = 96
    # render/upload threads per chunk: the PNG rasterizer (a subprocess) and S3 uploads wait
    # outside the GIL, so two threads keep one worker process busy rendering the next PDF
    threads: int = 2

    # ------------------------------------------------------------------ queries
    def learners(self, course_id: str) -> list[str]:
        """Enrolled learners (not dropped) of a course, in a stable order."""
        with self.uow() as s:
            if s.get(Course, course_id) is None:
                raise InvalidPayload("course_id", f"no course {course_id!r}")
            return list(s.scalars(select(Enrollment.user_id)
                                  .where(Enrollment.course_id == course_id, Enrollment.status != "dropped")
                                  .order_by(Enrollment.user_id)))

    # ------------------------------------------------------------------ issuing
    def issue_many(self, course_id: str, user_ids: list[str]) -> list[Outcome]:
        outcomes, pending, page_size = self._claim(course_id, user_ids)

        def store(cert: Certificate) -> str | None:
            try:
                self._store_files(cert, page_size)
                return None
            except render.Unprintable as exc:
                return str(exc)

        if self.threads > 1 and len(pending) > 1:
            with ThreadPoolExecutor(self.threads, thread_name_prefix="certificate-render") as pool:
                problems = list(pool.map(store, pending))
        else:
            problems = [store(cert) for cert in pending]
        refused = {cert.id: problem for cert, problem in zip(pending, problems) if problem}
        if refused:
            self._release(refused)
            for outcome in outcomes:
                if outcome.certificate_id in refused:
                    outcome.status, outcome.reasons = "unprintable", [refused[outcome.certificate_id]]
                    outcome.certificate_id = None
        printable = [cert for cert in pending if cert.id not in refused]
        if printable:
            self._finish(printable)
        return outcomes

    def _release(self, refused: dict[str, str]) -> None:
        """Drop the claimed rows of certificates that cannot be printed right: nothing is issued,
        a later run (after the name or title is fixed) claims them afresh."""
        with self.uow() as s:
            for cert in s.scalars(select(Certificate).where(Certificate.id.in_(list(refused)),
                                                            Certificate.status == "pending").with_for_update()):
                s.delete(cert)

    def _claim(self, course_id: str, user_ids: list[str]) -> tuple[list[Outcome], list[Certificate], str]:
        with self.uow() as s:
            course = s.get(Course, course_id)
            if course is None:
                raise InvalidPayload("course_id", f"no course {course_id!r}")
            rule = load_rule(s, course_id)
            instructor = s.get(User, course.instructor_id) if course.instructor_id else None
            needed = required_lessons(s, course_id) | set(rule.required_lesson_ids)
            done: dict[str, dict[str, object]] = {}
            if needed:
                for uid, lid, at in s.execute(
                        select(LessonProgress.user_id, LessonProgress.lesson_id, LessonProgress.completed_at)
                        .where(LessonProgress.user_id.in_(user_ids), LessonProgress.lesson_id.in_(needed),
                               LessonProgress.completed_at.is_not(None))):
                    done.setdefault(uid, {})[lid] = at
            users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(user_ids)))}
            existing = {c.user_id: c for c in s.scalars(
                select(Certificate).where(Certificate.course_id == course_id, Certificate.user_id.in_(user_ids)))}
            outcomes, pending = [], []
            issued_so_far: int | None = None
            for uid in user_ids:
                cert = existing.get(uid)
                if cert is None and uid not in users:
                    outcomes.append(Outcome(uid, "not_eligible", reasons=["unknown learner"]))
                    continue
                if cert is None:
                    grade = self.grade_of(s, uid, course_id)
                    decision = decide(rule, grade, needed, set(done.get(uid, {})))
                    if not decision.eligible:
                        outcomes.append(Outcome(uid, "not_eligible", reasons=decision.reasons))
                        continue
                    dates = list(done.get(uid, {}).values()) + ([grade["computed_at"]] if grade.get("computed_at") else [])
                    cert = Certificate(user_id=uid, course_id=course_id, status="pending", version=1,
                                       learner_name=users[uid].name, course_title=course.title,
                                       instructor_name=instructor.name if instructor else "",
                                       completed_at=max(dates) if dates else utcnow(),
                                       grade_percent=round(grade["percent"], 2) if rule.show_grade else None,
                                       grade_letter=grade.get("letter") if rule.show_grade else None)
                    if issued_so_far is None:
                        issued_so_far = s.scalar(select(func.count()).select_from(Certificate)) or 0
                    claimed = self._insert(s, cert, issued_so_far)
                    if claimed is not cert:          # a concurrent job claimed it first
                        outcomes.append(Outcome(uid, "existing", claimed.id))
                        continue
                    issued_so_far += 1
                    outcomes.append(Outcome(uid, "issued", cert.id))
                else:
                    outcomes.append(Outcome(uid, "existing", cert.id))
                if cert.status == "pending":         # new, or left half-done by a crashed run
                    pending.append(cert)
            return outcomes, pending, rule.page_size or self.page_size

    @staticmethod
    def _insert(s: Session, cert: Certificate, issued_so_far: int, tries: int = 32) -> Certificate:
        """Insert the claimed row with a free status list slot; returns the row another job
        inserted first for the same learner and course, if one did."""
        for _ in range(tries):
            cert.status_list, cert.status_index = status_list.pick_slot(issued_so_far)
            try:
                with s.begin_nested():
                    s.add(cert)
                    s.flush()
                return cert
            except IntegrityError:
                existing = s.scalar(select(Certificate).where(Certificate.user_id == cert.user_id,
                                                              Certificate.course_id == cert.course_id))
                if existing is not None:
                    return existing
                # the random slot was taken: draw another
        raise RuntimeError(f"no free status list slot after {tries} tries")

    def _store_files(self, cert: Certificate, page_size: str) -> None:
        pdf_key, png_key = records.storage_keys(cert.id, cert.version)
        pdf = render.render_pdf(records.view(cert, self.base_url), page_size)
        self.storage.put_bytes(pdf_key, pdf, "application/pdf", cache_control="private, no-cache")
        self.storage.put_bytes(png_key, render.render_png(pdf, self.png_dpi), "image/png",
                               cache_control="private, no-cache")

    def _finish(self, pending: list[Certificate]) -> None:
        versions = {c.id: c.version for c in pending}
        with self.uow() as s:
            rows = s.scalars(select(Certificate).where(Certificate.id.in_(list(versions)))
                             .order_by(Certificate.id).with_for_update())
            for cert in rows:
                if cert.status != "pending" or cert.version != versions[cert.id]:
                    continue                          # another run finished it
                cert.pdf_key, cert.png_key = records.storage_keys(cert.id, cert.version)
                self._sign(cert)
                cert.status = "issued"
                self.emit(s, "certificate.issued",
                          {"user_id": cert.user_id, "course_id": cert.course_id, "certificate_id": cert.id,
                           "verify_url": records.verify_url(self.base_url, cert.id)}, cert.user_id)

    def _sign(self, cert: Certificate) -> None:
        cert.issued_at = utcnow().replace(microsecond=0)
        cert.record = records.build(cert, self.base_url)
        cert.signature = self.key.sign(cert.record)
        cert.key_id = self.key.key_id
