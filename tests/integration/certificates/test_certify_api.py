"""End to end: intake → worker → PostgreSQL + S3 → public verification, as a stranger would."""
import base64
import gzip
import io
import subprocess

import httpx
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image
from pyzbar.pyzbar import decode
from sqlalchemy import select

from celeryconfig import settings
from domain.certificates import credential
from domain.certificates.models import Certificate
from domain.db import unit_of_work
from domain.jobs import enqueueing
from domain.jobs.models import Job, JobEvent
from tests.integration.certificates.factory import make_course, make_learner
from tests.support.specs import ob3_errors
from tests.unit.certificates.test_credential import outsider_verifies as outsider_verifies_proof
from tests.support.jobs import run_job, wait_job
from tests.support.stack import wait_for


def outsider_verifies(record: dict, signature_b64url: str, jwk: dict) -> bool:
    """What a verifier holding only ``cryptography`` and ``rfc8785`` does, from the docs."""
    unb64 = lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    try:
        Ed25519PublicKey.from_public_bytes(unb64(jwk["x"])).verify(unb64(signature_b64url), rfc8785.dumps(record))
        return True
    except InvalidSignature:
        return False


def resolve(client: httpx.Client, method_id: str) -> dict:
    """Dereference a verification method: fetch the controller document, find the method in it."""
    document_url, _, _ = method_id.partition("#")
    doc = client.get(document_url.replace(settings.public_base_url, "")).json()
    assert doc["id"] == document_url
    [method] = [m for m in doc["verificationMethod"] if m["id"] == method_id]
    assert method_id in doc["assertionMethod"] and method["controller"] == doc["id"]
    return method


def status_bit(client: httpx.Client, entry: dict) -> bool:
    """Fetch the status list credential, check its proof, read the entry's bit (spec: gzip, base64url, MSB first)."""
    assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
    listed = client.get(entry["statusListCredential"].replace(settings.public_base_url, ""))
    assert listed.status_code == 200, listed.text
    vc = listed.json()
    assert vc["id"] == entry["statusListCredential"] and "BitstringStatusListCredential" in vc["type"]
    assert outsider_verifies_proof(vc, resolve(client, vc["proof"][0]["verificationMethod"]))
    encoded = vc["credentialSubject"]["encodedList"]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    index = int(entry["statusListIndex"])
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def test_certify_through_intake_then_verify_without_our_database(api, database):
    # Given an eligible learner whose name is in Greek
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s, title="Αλγόριθμοι")
        user = make_learner(s, course, lessons, "Ελένη Παπαδοπούλου")
    # When the web tier asks for the certificate twice (two different requests)
    first = run_job(api, "certify", {"user_id": user.id, "course_id": course.id}, timeout=120)
    second = run_job(api, "certify", {"user_id": user.id, "course_id": course.id}, timeout=120)
    # Then one certificate: the second request returns the same id
    assert first["state"] == "succeeded", first
    assert first["result"]["created"] is True and second["result"]["created"] is False
    cid = first["result"]["certificate_id"]
    assert second["result"]["certificate_id"] == cid
    # And certificate.issued was emitted once, with the wire fields
    with unit_of_work(database.url) as s:
        issued = list(s.scalars(select(JobEvent).where(JobEvent.type == "certificate.issued",
                                                       JobEvent.user_id == user.id)))
    verify_url = f"{settings.public_base_url}/v1/certificates/{cid}/verify"
    assert [e.data for e in issued] == [{"user_id": user.id, "course_id": course.id, "certificate_id": cid,
                                        "verify_url": verify_url}]
    # And the presigned PDF has the name and id; the PNG's QR code points to the verify URL
    body = api.get(f"/v1/certificates/{cid}").json()["certificate"]
    pdf = httpx.get(body["links"]["pdf"], timeout=30).content
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "Ελένη Παπαδοπούλου" in text and cid in text and "Αλγόριθμοι" in text
    png = httpx.get(body["links"]["png"], timeout=30).content
    assert [q.data.decode() for q in decode(Image.open(io.BytesIO(png)))] == [verify_url]
    # And a stranger (no API key) verifies it with only the published public key
    public = httpx.Client(base_url=api.base_url, timeout=30)
    keys = {k["kid"]: k for k in public.get("/.well-known/coursework-certificates.json").json()["keys"]}
    answer = public.get(f"/v1/certificates/{cid}/verify").json()
    assert answer["status"] == "valid" and answer["learner_name"] == "Ελένη Παπαδοπούλου"
    assert answer["course"]["title"] == "Αλγόριθμοι" and answer["completed_at"] == "2026-11-20"
    jwk = keys[answer["signature"]["key_id"]]
    assert outsider_verifies(answer["record"], answer["signature"]["value"], jwk)
    tampered = {**answer["record"], "course": {**answer["record"]["course"], "title": "Brain Surgery"}}
    assert not outsider_verifies(tampered, answer["signature"]["value"], jwk)
    vc = public.get(f"/v1/certificates/{cid}/credential").json()
    assert credential.verify_credential(vc, jwk)
    # And the Open Badges 3.0 credential is valid against 1EdTech's schema; its proof verifies
    # with the key its verificationMethod resolves to, through the issuer's controller document
    assert ob3_errors(vc) == []
    method = resolve(public, vc["proof"][0]["verificationMethod"])
    assert vc["issuer"]["id"] == method["controller"]
    assert outsider_verifies_proof(vc, method)
    assert status_bit(public, vc["credentialStatus"]) is False
    assert public.get(f"/v1/certificates/{cid}").status_code == 401          # details need a key
    assert public.get("/v1/certificates/CW-0000-0000-0000-0000/verify").json()["status"] == "unknown"


def test_revoke_then_verification_says_revoked(api, database):
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s)
        user = make_learner(s, course, lessons, "דוד כהן")
        second = make_learner(s, course, lessons, "Ada Lima")
    cid = run_job(api, "certify", {"user_id": user.id, "course_id": course.id}, timeout=120)["result"]["certificate_id"]
    other = run_job(api, "certify", {"user_id": second.id, "course_id": course.id}, timeout=120)["result"]["certificate_id"]
    # Given a holder kept a copy of the credential
    held = httpx.get(f"{api.base_url}/v1/certificates/{cid}/credential", timeout=30).json()
    assert status_bit(httpx.Client(base_url=api.base_url, timeout=30), held["credentialStatus"]) is False
    # When an operator revokes it with a reason
    r = api.post(f"/v1/certificates/{cid}/revoke", json={"reason": "plagiarism confirmed"})
    assert r.status_code == 200, r.text
    # Then public verification says revoked, with the reason
    public = httpx.Client(base_url=api.base_url, timeout=30)
    answer = public.get(f"/v1/certificates/{cid}/verify").json()
    assert (answer["status"], answer["revoke_reason"]) == ("revoked", "plagiarism confirmed")
    assert answer["credential_status"] == held["credentialStatus"]
    # And the credential export says so, and an offline holder's copy is revoked by the status list
    gone = public.get(f"/v1/certificates/{cid}/credential")
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "revoked", gone.text
    assert "plagiarism confirmed" in gone.json()["error"]["message"]
    assert status_bit(public, held["credentialStatus"]) is True
    # the other learner's bit stays clear
    assert status_bit(public, public.get(f"/v1/certificates/{other}/credential").json()["credentialStatus"]) is False
    assert api.post(f"/v1/certificates/{cid}/revoke", json={"reason": ""}).json()["error"]["details"][0]["field"] == "reason"


def test_course_passed_event_starts_a_certify_job(api, database):
    # Given an eligible learner; When grading emits course.passed (as its task would)
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s)
        user = make_learner(s, course, lessons, "山田 太郎")
    with unit_of_work(database.url) as s:
        enqueueing.emit(s, None, "course.passed", {"user_id": user.id, "course_id": course.id,
                                                 "percent": 85.0, "letter": "B"}, user_id=user.id)
    # Then a certify job with the deterministic key runs (published by intake's relay) and issues
    key = f"certify:{user.id}:{course.id}"

    def job_id():
        with unit_of_work(database.url) as s:
            return s.scalar(select(Job.id).where(Job.idempotency_key == key))

    job = wait_job(api, wait_for(job_id, timeout=30, message="the certify job"), timeout=120)
    assert job["state"] == "succeeded", job
    with unit_of_work(database.url) as s:
        cert = s.scalar(select(Certificate).where(Certificate.user_id == user.id))
    assert cert.id == job["result"]["certificate_id"] and cert.learner_name == "山田 太郎"


def test_bad_input_is_refused_at_intake_and_ineligible_learners_fail_clearly(api, database):
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s)
        user = make_learner(s, course, lessons, "Half Way", complete=False)
    for payload, field in [({"user_id": user.id, "course_id": "nope"}, "course_id"),
                           ({"user_id": "nobody", "course_id": course.id}, "user_id"),
                           ({"user_id": user.id}, "payload.course_id")]:
        r = api.post("/v1/jobs", json={"kind": "certify", "payload": payload})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == field, r.text
    r = api.post("/v1/jobs", json={"kind": "reissue_certificate", "payload": {"certificate_id": "bad"}})
    assert r.json()["error"]["details"][0]["field"] == "payload.certificate_id"
    with unit_of_work(database.url) as s:
        cherokee = make_learner(s, course, lessons, "ᏣᎳᎩ Smith")
    job = run_job(api, "certify", {"user_id": cherokee.id, "course_id": course.id}, timeout=120)
    assert job["state"] == "failed" and job["error"]["code"] == "unprintable", job
    assert job["attempts"] == 1 and "U+13E3" in job["error"]["message"]
    job = run_job(api, "certify", {"user_id": user.id, "course_id": course.id}, timeout=120)
    assert job["state"] == "failed" and job["error"]["code"] == "not_eligible"
    assert "2 required lesson(s) not completed" in job["error"]["message"]


def test_after_a_key_rotation_old_certificates_still_verify_and_new_ones_use_the_new_key(
        api, database, stack, tmp_path):
    from celeryconfig import STATE_DIR
    from domain.certificates import keys
    from domain.certificates.signing import SigningKey

    # Given a certificate signed with the current (development) key
    with unit_of_work(database.url) as s:
        course, lessons = make_course(s)
        user = make_learner(s, course, lessons, "Արամ Խաչատրյան")
    cid = run_job(api, "certify", {"user_id": user.id, "course_id": course.id}, timeout=120)["result"]["certificate_id"]
    old_file = keys.dev_key_file(STATE_DIR)
    old = SigningKey.from_pem(old_file.read_bytes())
    answer = httpx.get(f"{api.base_url}/v1/certificates/{cid}/verify", timeout=30).json()
    assert answer["signature"]["key_id"] == old.key_id          # precondition: the worker signed with it
    # When the operator rotates: a new key file, the old one kept as a previous key
    new_file = tmp_path / "certificate-key.pem"
    new = SigningKey.generate()
    new_file.write_bytes(new.pem())
    rotated = httpx.Client(base_url=stack.start_intake(COURSEWORK_CERTIFICATE_KEY_FILE=str(new_file),
                                                       COURSEWORK_CERTIFICATE_PREVIOUS_KEY_FILES=str(old_file)),
                           timeout=30)
    # Then both keys are published with their kids, the new one first
    published = rotated.get("/.well-known/coursework-certificates.json").json()["keys"]
    assert [k["kid"] for k in published] == [new.key_id, old.key_id]
    # And the old certificate's record still verifies, with the key its kid names
    answer = rotated.get(f"/v1/certificates/{cid}/verify").json()
    jwk = {k["kid"]: k for k in published}[answer["signature"]["key_id"]]
    assert outsider_verifies(answer["record"], answer["signature"]["value"], jwk)
    # And its credential is now proved with the new key, which the controller document lists
    vc = rotated.get(f"/v1/certificates/{cid}/credential").json()
    assert vc["proof"][0]["verificationMethod"].endswith(f"#{new.key_id}")
    doc = rotated.get("/v1/certificates/issuer").json()
    assert [m["id"].rsplit("#", 1)[1] for m in doc["verificationMethod"]] == [new.key_id, old.key_id]
    [method] = [m for m in doc["verificationMethod"] if m["id"] == vc["proof"][0]["verificationMethod"]]
    assert outsider_verifies_proof(vc, method)
