"""Certificates, notifications, analytics and health: what their routes answer."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from intake.schemas import F
from intake.schemas.jobs import Job, JobLinks

CERT = "CW-7K2M-9QXD-4HNB-P3TW"


# ------------------------------------------------------------------------------ certificates

class Certificate(BaseModel):
    id: str = F("the verification id", CERT)
    user_id: str = F("the learner", "u-1")
    course_id: str = F("the course", "c-1")
    status: str = F("issued or revoked", "issued")
    version: int = F("reissues increase it", 1)
    learner_name: str | None = F("name printed on it", "Ada Lovelace")
    course_title: str | None = F("course title printed on it", "Python 101")
    instructor_name: str | None = F("instructor printed on it", "Grace Hopper")
    completed_at: str | None = F("ISO 8601", "2026-01-04T18:00:00+00:00")
    grade_percent: float | None = F("the grade, if shown", None)
    grade_letter: str | None = F("the letter grade, if shown", None)
    pdf_key: str | None = F("storage key of the PDF", f"certificates/{CERT}/v1.pdf")
    png_key: str | None = F("storage key of the PNG", f"certificates/{CERT}/v1.png")
    issued_at: str | None = F("ISO 8601", "2026-01-05T10:00:00+00:00")
    revoked_at: str | None = F("ISO 8601", None)
    revoke_reason: str | None = F("why it was revoked", None)
    links: dict[str, str] | None = F("presigned pdf/png downloads, verify and credential URLs",
                                     {"verify": f"/v1/certificates/{CERT}/verify"})


class CertificateView(BaseModel):
    certificate: Certificate = F("the certificate")


class CertificateList(BaseModel):
    certificates: list[Certificate] = F("matching certificates, by id")


class Verification(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["valid", "revoked", "unknown"] = F("what the platform says of this id", "valid")
    certificate_id: str = F("the id asked about", CERT)
    version: int | None = F("its version", 1, default=None)
    learner_name: str | None = F("name on it", "Ada Lovelace", default=None)
    course: dict[str, Any] | None = F("id and title of the course", {"id": "c-1", "title": "Python 101"}, default=None)
    completed_at: str | None = F("ISO 8601 date", "2026-01-04", default=None)
    issued_at: str | None = F("ISO 8601", "2026-01-05T10:00:00+00:00", default=None)
    record: dict[str, Any] | None = F("the signed record", None, default=None)
    signature: dict[str, Any] | None = F("Ed25519 signature of the canonical record", None, default=None)
    revoked_at: str | None = F("ISO 8601, when revoked", None, default=None)
    revoke_reason: str | None = F("why, when revoked", None, default=None)
    public_keys: str = F("where the signing keys are published", "https://learn.example/.well-known/"
                                                               "coursework-certificates.json")


class PublicKeys(BaseModel):
    issuer: dict[str, str] = F("issuer name and URL", {"name": "Coursework", "url": "https://learn.example"})
    keys: list[dict[str, str]] = F("JWK set of Ed25519 public keys", [{"kty": "OKP", "crv": "Ed25519"}])
    signature: dict[str, str] = F("how records are signed", {"alg": "EdDSA"})
    credential_proof: str = F("proof type of exported credentials", "DataIntegrityProof, cryptosuite eddsa-jcs-2022")


class Credential(BaseModel):
    """An Open Badges 3.0 / W3C Verifiable Credential (JSON-LD), with a DataIntegrityProof."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    type: list[str] = F("credential types", ["VerifiableCredential", "OpenBadgeCredential"])
    proof: Any = F("the eddsa-jcs-2022 proof", None)


# ------------------------------------------------------------------------------ notifications

class Notification(BaseModel):
    id: str = F("the notification", "n1")
    type: str = F("notification type", "quiz_graded")
    priority: str = F("normal, high or urgent", "normal")
    title: str = F("title", "Your quiz was graded")
    body: str = F("text", "You scored 90%.")
    link: str | None = F("where it leads", "/courses/c-1")
    data: dict[str, Any] = F("template variables", {"score_pct": 90})
    course_id: str | None = F("the course, for announcements", None)
    created_at: str | None = F("ISO 8601", "2026-01-05T10:00:00+00:00")
    expires_at: str | None = F("ISO 8601", None)


class InboxItem(BaseModel):
    id: str = F("the delivery id (mark read with it)", "d1")
    notification: Notification = F("what was said")
    read_at: str | None = F("ISO 8601, when read", None)
    created_at: str = F("ISO 8601", "2026-01-05T10:00:00+00:00")


class Inbox(BaseModel):
    items: list[InboxItem] = F("newest first")
    unread: int = F("unread count", 3)
    next_before: str | None = F("pass as ?before= for the next page", None)


class UnreadCount(BaseModel):
    unread: int = F("unread count", 3)


class MarkedAll(BaseModel):
    marked: int = F("how many were marked read", 3)
    unread: int = F("unread count after (0)", 0)


class Preference(BaseModel):
    type: str = F("notification type", "quiz_graded")
    priority: str | None = F("the type's priority", "normal")
    channel: str = F("email or in_app", "email")
    mode: str = F("immediate, digest or off", "immediate")
    default: str | None = F("the type's default mode on this channel", "immediate")
    locked: bool | None = F("urgent types cannot be turned off", False)


class Preferences(BaseModel):
    preferences: list[Preference] = F("one per type and channel")


# ------------------------------------------------------------------------------ analytics

class Rollup(BaseModel):
    last_seq: int = F("last event folded into the rollups", 1200)
    updated_at: str | None = F("ISO 8601", "2026-01-05T10:00:00+00:00")


class EventsAccepted(BaseModel):
    job: Job = F("the ingest_events job (without its payload)")
    accepted: int = F("events accepted", 500)
    links: JobLinks = F("where to follow it")


class CourseAnalytics(BaseModel):
    course_id: str = F("the course", "c-1")
    days: list[dict[str, Any]] = F("daily rollups: day, enrollments, active_learners, ...", [])
    totals: dict[str, Any] = F("sums over the range", {"enrollments": 12})
    popularity: dict[str, Any] | None = F("rank, score and trend, when ranked", None)
    rollup: Rollup = F("how fresh the rollups are")


class LearnerAnalytics(BaseModel):
    user_id: str = F("the learner", "u-1")
    timezone: str = F("the learner's time zone", "Europe/Paris")
    local_date: str = F("today, there", "2026-01-05")
    current_streak: int = F("days in a row", 4)
    longest_streak: int = F("best streak", 9)
    last_active_day: str | None = F("ISO date", "2026-01-05")
    active_days: int = F("days with activity", 20)
    lessons_completed: int = F("lessons completed", 14)
    minutes_watched: float = F("minutes of video", 320.5)
    week: dict[str, Any] = F("minutes, goal_minutes and progress this week", {"minutes": 45.0})
    rollup: Rollup = F("how fresh the rollups are")


class Leaderboard(BaseModel):
    model_config = ConfigDict(extra="allow")
    topic: str | None = F("the topic", "loops", default=None)
    entries: list[dict[str, Any]] | None = F("rank, user_id, points, exercises, submissions", None, default=None)
    topics: list[str] | None = F("without ?topic=: the topics there are", None, default=None)
    hint: str | None = F("without ?topic=: how to ask for one", None, default=None)
    rollup: Rollup | None = F("how fresh the rollups are", None, default=None)


class TrendingCourses(BaseModel):
    courses: list[dict[str, Any]] = F("rank, course_id, score, trend", [])


class PlatformAnalytics(BaseModel):
    days: list[dict[str, Any]] = F("platform totals per day", [])
    totals: dict[str, Any] = F("sums over the range", {})
    rollup: Rollup = F("how fresh the rollups are")


# ------------------------------------------------------------------------------ health

class Health(BaseModel):
    status: Literal["ok"] = F("the process answers", "ok")


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"] = F("ready when every check is ok", "ready")
    checks: dict[str, str] = F("database and redis: ok or the error", {"database": "ok", "redis": "ok"})
