"""The issuer in-process against the real PostgreSQL and S3 (moto server): one certificate per
learner and course even under concurrent requests, bulk chunks, reissue, revoke."""
import io
import subprocess
import threading

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from domain.certificates import bulk, lifecycle
from domain.certificates.issuing import Issuer
from domain.certificates.models import Certificate, CertificateRule
from domain.certificates.signing import SigningKey, verify
from domain.core.models import LessonProgress, User
from domain.db import unit_of_work
from domain.jobs.errors import PermanentError
from domain.storage import S3Storage
from tests.integration.certificates.factory import DONE_AT, make_course, make_learner
from tests.support.control import RecordingControl


def issuer(database, s3_server, events: list) -> Issuer:
    return Issuer(uow=lambda: unit_of_work(database.url),
                  storage=S3Storage("coursework-test", endpoint_url=s3_server.endpoint),
                  key=SigningKey.generate(), base_url="https://learn.example.org",
                  emit=lambda s, name, data, user_id: events.append((name, data)))


def text_of(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_concurrent_requests_make_exactly_one_certificate(database, s3_server):
    # Given an eligible learner
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s)
        user = make_learner(s, course, lessons, "Zoë Ångström")
    events: list = []
    iss = issuer(database, s3_server, events)
    outcomes, errors = [], []

    def run():
        try:
            outcomes.extend(iss.issue_many(course.id, [user.id]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # When four workers issue at the same time
    threads = [threading.Thread(target=run) for _ in range(4)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    # Then one row, one "issued", one event, and everyone got the same id
    assert errors == []
    assert len({o.certificate_id for o in outcomes}) == 1
    assert sorted(o.status for o in outcomes) == ["existing"] * 3 + ["issued"]
    with unit_of_work(database.url) as s:
        assert s.scalar(select(func.count()).select_from(Certificate).where(Certificate.user_id == user.id)) == 1
        cert = s.scalar(select(Certificate).where(Certificate.user_id == user.id))
    assert [e[0] for e in events] == ["certificate.issued"]
    assert events[0][1] == {"user_id": user.id, "course_id": course.id, "certificate_id": cert.id,
                            "verify_url": f"https://learn.example.org/v1/certificates/{cert.id}/verify"}
    assert cert.status == "issued" and cert.pdf_key == f"certificates/{cert.id}/v1.pdf"
    assert verify(cert.record, cert.signature, iss.key.jwk())
    pdf = iss.storage.get_bytes(cert.pdf_key)
    assert "Zoë Ångström" in text_of(pdf) and cert.id in text_of(pdf)
    assert iss.storage.head(cert.png_key)["content_type"] == "image/png"


def test_course_rule_shows_grade_uses_letter_page_and_adds_requirements(database, s3_server):
    # Given a course whose rule shows the grade, prints on Letter and needs an optional lesson
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s, required=1, optional=1)
        s.add(CertificateRule(course_id=course.id, show_grade=True, page_size="Letter",
                              required_lesson_ids=[lessons[1].id]))
        ready = make_learner(s, course, lessons, "Ana Lima", percent=91.25)
        s.add(LessonProgress(user_id=ready.id, lesson_id=lessons[1].id, completed_at=DONE_AT))
        not_ready = make_learner(s, course, lessons, "Bo Chen")
    iss = issuer(database, s3_server, [])
    # When both are issued
    a, b = iss.issue_many(course.id, [ready.id, not_ready.id])
    # Then only the one who did the extra lesson gets one, with the grade, on Letter paper
    assert a.status == "issued" and b.status == "not_eligible"
    assert b.reasons == ["1 required lesson(s) not completed"]
    with unit_of_work(database.url) as s:
        cert = s.get(Certificate, a.certificate_id)
    pdf = iss.storage.get_bytes(cert.pdf_key)
    assert "Grade: 91.25% (B)" in text_of(pdf).replace("\n", " "), text_of(pdf)
    assert cert.record["grade"] == {"percent": 91.25, "letter": "B"}
    assert round(float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.width)) == 792


def test_bulk_in_chunks_is_idempotent_on_rerun(database, s3_server):
    # Given 7 learners: 5 eligible, 1 without the lessons, 1 failing
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s)
        for i in range(5):
            make_learner(s, course, lessons, f"Learner {i}")
        make_learner(s, course, lessons, "Half Done", complete=False)
        make_learner(s, course, lessons, "Not Passed", percent=30.0, passed=False)
    events: list = []
    iss = issuer(database, s3_server, events)
    control = RecordingControl()
    # When the bulk job runs in chunks of 3, twice
    first = bulk.certify_course(iss, course.id, 3, control=control)
    second = bulk.certify_course(iss, course.id, 3)
    # Then 5 certificates, progress per chunk, and the rerun adds nothing
    assert (first["learners"], first["issued"], first["existing"], first["not_eligible"]) == (7, 5, 0, 2)
    assert first["not_eligible_reasons"] == {"2 required lesson(s) not completed": 1,
                                             "the course grade is not a pass": 1}
    assert [(round(pct), msg) for pct, msg in control.reports] == [(43, "3/7 learners"), (86, "6/7 learners"),
                                                                  (100, "7/7 learners")]
    assert (second["issued"], second["existing"], second["not_eligible"]) == (0, 5, 2)
    assert len(events) == 5
    with unit_of_work(database.url) as s:
        assert s.scalar(select(func.count()).select_from(Certificate)
                        .where(Certificate.course_id == course.id, Certificate.status == "issued")) == 5


def test_reissue_after_name_change_makes_a_new_version_and_removes_the_old_file(database, s3_server):
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s)
        user = make_learner(s, course, lessons, "Maria Silva")
    iss = issuer(database, s3_server, [])
    [outcome] = iss.issue_many(course.id, [user.id])
    cid = outcome.certificate_id
    # When the learner changes their name and the certificate is reissued (twice: a rerun)
    with unit_of_work(database.url) as s:
        s.get(User, user.id).name = "Мария Сильва"
    result = lifecycle.reissue(iss, cid)
    again = lifecycle.reissue(iss, cid)
    # Then version 2 under the same id, the v1 files are gone, the record is re-signed
    assert result == {"certificate_id": cid, "version": 2, "reissued": True}
    assert again == {"certificate_id": cid, "version": 2, "reissued": False}
    assert not iss.storage.exists(f"certificates/{cid}/v1.pdf")
    assert not iss.storage.exists(f"certificates/{cid}/v1.png")
    with unit_of_work(database.url) as s:
        cert = s.get(Certificate, cid)
    assert cert.pdf_key == f"certificates/{cid}/v2.pdf"
    assert "Мария Сильва" in text_of(iss.storage.get_bytes(cert.pdf_key))
    assert cert.record["learner"]["name"] == "Мария Сильва" and cert.record["version"] == 2
    assert verify(cert.record, cert.signature, iss.key.jwk())
    # And revocation is kept, and a revoked certificate is not reissued
    with unit_of_work(database.url) as s:
        lifecycle.revoke(s, cid, "academic misconduct")
    with unit_of_work(database.url) as s:
        body = lifecycle.verification(s.get(Certificate, cid), cid)
    assert body["status"] == "revoked" and body["revoke_reason"] == "academic misconduct"
    with pytest.raises(PermanentError):
        lifecycle.reissue(iss, cid, force=True)


def test_a_name_no_font_can_draw_is_refused_and_leaves_no_certificate(database, s3_server):
    # Given three eligible learners, one with a name in a script the font chain does not cover
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s)
        ok = [make_learner(s, course, lessons, n).id for n in ("श्रीनिवास रामानुजन्", "ኃይለ ሥላሴ")]
        odd = make_learner(s, course, lessons, "ᏣᎳᎩ Smith").id
    events: list = []
    iss = issuer(database, s3_server, events)
    # When the course is certified in bulk
    result = bulk.certify_course(iss, course.id, 10)
    # Then the two others are issued and the third is counted as unprintable, with no row at all
    assert (result["issued"], result["unprintable"], result["not_eligible"]) == (2, 1, 0)
    with unit_of_work(database.url) as s:
        assert s.scalar(select(func.count()).select_from(Certificate).where(Certificate.user_id == odd)) == 0
        assert s.scalar(select(func.count()).select_from(Certificate)
                        .where(Certificate.user_id.in_(ok), Certificate.status == "issued")) == 2
    assert len(events) == 2
    [outcome] = iss.issue_many(course.id, [odd])
    assert outcome.status == "unprintable" and outcome.certificate_id is None
    assert "U+13E3" in outcome.reasons[0] and "learner's name" in outcome.reasons[0]
