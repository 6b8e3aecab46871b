"""Certificate task bodies as plain functions: a real JobContext on a claimed job, no Celery."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.certificates.models import Certificate
from domain.db import unit_of_work
from domain.jobs.errors import JobCancelled, PermanentError
from domain.jobs.models import JobEvent
from tasks.certificates import certify, certify_course
from tests.integration.certificates.factory import make_course, make_learner
from tests.support.context import job_context


def test_certify_issues_one_certificate_and_a_rerun_finds_it(database, s3_server):
    # Given an eligible learner
    with unit_of_work(database.url) as session:
        course, lessons = make_course(session)
        user = make_learner(session, course, lessons, "Grace Hopper")
        course_id, user_id = course.id, user.id
    ctx, payload = job_context(database.url, "certify", {"course_id": course_id, "user_id": user_id})
    # When the task body runs twice (a redelivery)
    first = certify.body(ctx, payload)
    again = certify.body(ctx, payload)
    # Then one certificate, its PDF in the platform's storage, one event from this job
    assert first["created"] is True and again == {**first, "created": False}
    with unit_of_work(database.url) as session:
        cert = session.get(Certificate, first["certificate_id"])
        assert (cert.user_id, cert.status, cert.learner_name) == (user_id, "issued", "Grace Hopper")
        issued = session.scalars(select(JobEvent.data).where(JobEvent.job_id == ctx.job_id,
                                                             JobEvent.type == "certificate.issued")).all()
    assert ctx.storage.get_bytes(cert.pdf_key).startswith(b"%PDF")
    assert [e["certificate_id"] for e in issued] == [cert.id]


def test_certify_refuses_a_learner_who_is_not_eligible(database, s3_server):
    with unit_of_work(database.url) as session:
        course, lessons = make_course(session)
        user = make_learner(session, course, lessons, "Half Done", complete=False)
        course_id, user_id = course.id, user.id
    ctx, payload = job_context(database.url, "certify", {"course_id": course_id, "user_id": user_id})
    with pytest.raises(PermanentError) as err:
        certify.body(ctx, payload)
    assert err.value.code == "not_eligible"


def test_certify_course_stops_before_its_first_chunk_when_cancelled(database, s3_server):
    with unit_of_work(database.url) as session:
        course, lessons = make_course(session)
        for i in range(3):
            make_learner(session, course, lessons, f"Learner {i}")
        course_id = course.id
    ctx, payload = job_context(database.url, "certify_course", {"course_id": course_id})
    ctx.cancel_event.set()
    with pytest.raises(JobCancelled):
        certify_course.body(ctx, payload)
    with unit_of_work(database.url) as session:
        assert session.scalars(select(Certificate).where(Certificate.course_id == course_id)).all() == []
