"""`coursework certificates ...` subcommands and the demo step of the certificates family.

    coursework certificates verify CW-XXXX-XXXX-XXXX-XXXX   # status + signature check, offline from the DB
    coursework certificates revoke CW-... --reason "..."
    coursework certificates keygen FILE                     # a new PEM key for COURSEWORK_CERTIFICATE_KEY_FILE
    coursework certificates public-key                      # the JWK set published at /.well-known/...
"""
from __future__ import annotations

import json
import os
import subprocess
import sys


def _settings():
    from celeryconfig import settings

    return settings


def _ring():
    from celeryconfig import STATE_DIR
    from domain.certificates import keys

    return keys.from_settings(_settings(), STATE_DIR)


def _keygen(path: str | None) -> int:
    from domain.certificates.signing import SigningKey

    if not path:
        print("give the file to write, e.g. coursework certificates keygen /etc/coursework/certificate-key.pem",
              file=sys.stderr)
        return 2
    key = SigningKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"{path} exists: not overwritten (keep it as a previous key when rotating)", file=sys.stderr)
        return 1
    with os.fdopen(fd, "wb") as f:
        f.write(key.pem())
    print(f"wrote {path} (kid {key.key_id}); set COURSEWORK_CERTIFICATE_KEY_FILE={path} on workers and intake",
          file=sys.stderr)
    return 0


def cmd_certificates(args) -> int:
    if args.action == "keygen":
        return _keygen(args.id)
    if args.action == "public-key":
        print(json.dumps({"keys": _ring().jwks()}, indent=2))
        return 0
    if not args.id:
        print("give a certificate id", file=sys.stderr)
        return 2
    from domain.certificates import lifecycle
    from domain.certificates.models import Certificate
    from domain.certificates.signing import public_jwk, verify
    from domain.db import unit_of_work

    with unit_of_work(_settings().database_url) as s:
        if args.action == "revoke":
            if not args.reason:
                print("--reason is required", file=sys.stderr)
                return 2
            cert = lifecycle.revoke(s, args.id, args.reason)
            print(f"revoked {cert.id}: {cert.revoke_reason}")
            return 0
        body = lifecycle.verification(s.get(Certificate, args.id), args.id)
    if body["status"] != "unknown":
        public = _ring().find(body["signature"]["key_id"] or "")
        body["signature_valid"] = bool(public) and verify(body["record"], body["signature"]["value"],
                                                          public_jwk(public))
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return 0 if body["status"] == "valid" and body.get("signature_valid") else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("certificates", help="verify / revoke certificates; signing keys")
    p.add_argument("action", choices=["verify", "revoke", "keygen", "public-key"],
                   help="verify or revoke a certificate; keygen: write a signing key file; public-key: print it")
    p.add_argument("id", nargs="?", default=None, help="certificate id (verify, revoke) or file (keygen)")
    p.add_argument("--reason", default=None, help="why the certificate is revoked (revoke)")
    p.set_defaults(fn=cmd_certificates)


def demo(d) -> bool:
    """A course with three learners (Latin, Arabic, Chinese names) and one who is not done yet:
    bulk issue, fetch the PDF, decode nothing by hand: print what verification says."""
    import httpx
    from sqlalchemy import select

    from domain.certificates.models import Certificate
    from domain.certificates.signing import verify
    from domain.core.models import Course, Enrollment, Lesson, LessonProgress, LessonType, Module, User
    from domain.db import unit_of_work, utcnow
    from domain.grading.models import CourseGrade

    with unit_of_work(d.db_url) as s:
        teacher = User(email="grace@demo.local", name="Grace Hopper", role="instructor")
        s.add(teacher)
        s.flush()
        course = Course(slug="cert-demo", title="Compilers from Scratch", instructor_id=teacher.id)
        module = Module(title="Week 1", position=1)
        course.modules.append(module)
        module.lessons.extend([Lesson(title=f"Lesson {i}", position=i, type=LessonType.article) for i in range(2)])
        s.add(course)
        s.flush()
        learners = []
        for i, (name, done) in enumerate([("Zoë Ångström", True), ("محمد علي", True), ("王小明", True),
                                          ("Still Learning", False)]):
            user = User(email=f"learner{i}@demo.local", name=name)
            s.add(user)
            s.flush()
            learners.append(user.id)
            s.add(Enrollment(user_id=user.id, course_id=course.id))
            for lesson in module.lessons if done else module.lessons[:1]:
                s.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, completed_at=utcnow()))
            s.add(CourseGrade(user_id=user.id, course_id=course.id, percent=88.0, letter="B", passed=True,
                              computed_at=utcnow()))
        course_id = course.id
    job = d.run("certify_course", {"course_id": course_id, "chunk_size": 2})
    d.say(f"certify_course {job['state']}: {json.dumps(job.get('result') or job.get('error'), ensure_ascii=False)[:200]}")
    if job["state"] != "succeeded" or job["result"]["issued"] != 3:
        return False
    again = d.run("certify", {"user_id": learners[0], "course_id": course_id})
    d.say(f"certify again for the same learner: created={again['result']['created']} "
          f"id={again['result']['certificate_id']}")
    with unit_of_work(d.db_url) as s:
        certs = list(s.scalars(select(Certificate).where(Certificate.course_id == course_id)
                               .order_by(Certificate.learner_name)))
    storage = d.storage()
    base = d.env["COURSEWORK_PUBLIC_BASE_URL"]
    keys = httpx.get(f"{base}/.well-known/coursework-certificates.json", timeout=30).json()["keys"]
    ok = again["result"]["certificate_id"] == next(c.id for c in certs if c.user_id == learners[0])
    for cert in certs:
        pdf = storage.get_bytes(cert.pdf_key)
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True).stdout.decode()
        answer = httpx.get(f"{base}/v1/certificates/{cert.id}/verify", timeout=30).json()
        jwk = next((k for k in keys if k["kid"] == answer["signature"]["key_id"]), None)
        good = jwk is not None and verify(answer["record"], answer["signature"]["value"], jwk)
        ok = ok and good and answer["status"] == "valid" and cert.id in text
        d.say(f"{cert.id}  {cert.learner_name:<14} pdf={len(pdf)}B  verify={answer['status']} "
              f"signature={'ok' if good else 'BAD'}  file={os.path.join(d.state_dir, 'storage', cert.pdf_key)}")
    return ok
