"""Job kinds of the grading family, their payloads, intake checks and event reactions."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from domain.core.fields import When, id_field, int_field, number, text
from domain.jobs.kinds import Enqueue, JobKind



def Id(description: str, example: str):   # noqa: N802 (reads as the type it was)
    return id_field(max_length=64, description=description, examples=[example])

QUEUE = "grading"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(_Payload):
    question_id: str = Id("the question", "q1")
    value: JsonValue = Field(default=None, description="the answer: a choice index, a list of them, a number, "
                             "text, an ordering or a matching, as the question type takes; null (or left out) "
                             "= not answered", examples=[1])
    answered_at: When | None = Field(
        default=None, examples=["2026-01-05T10:00:00Z"],
        description="when the web tier recorded the answer (with a time zone; within the attempt: not before its "
                    "start, not after the hand-in); default: the hand-in time")


class GradeQuizPayload(_Payload):
    attempt_id: str = Id("the quiz attempt", "att-1")
    answers: list[Answer] = Field(default_factory=list, max_length=500, description="the learner's answers")


class GradeAssignmentPayload(_Payload):
    submission_id: str = Id("the assignment submission", "as-1")
    rubric: dict[Annotated[str, id_field(max_length=64)], Annotated[str, id_field(max_length=64)]] = Field(
        default_factory=dict, max_length=50, description="criterion id → level id", examples=[{"clarity": "good"}])
    feedback: str = text(20_000, default="", description="the grader's feedback", examples=["Well argued."])
    request_revision: bool = Field(default=False, description="ask the learner to revise and resubmit",
                                   examples=[False])


class AssignPeerReviewsPayload(_Payload):
    assignment_id: str = Id("the assignment", "asg-1")
    k: int = Field(default=3, ge=1, le=10, description="reviews per submission", examples=[3])


class PeerReviewPayload(_Payload):
    review_id: str = Id("the peer review", "rev-1")
    rating: float = number(ge=0, le=5, description="0-5", examples=[4])
    feedback: str = text(20_000, default="", description="the reviewer's comments", examples=["Clear."])


class CodeScorePayload(_Payload):
    user_id: str = Id("the learner", "u-1")
    course_id: str = Id("the course", "c-1")
    exercise_id: str = Id("the exercise", "ex-fizzbuzz")
    submission_id: str = Id("the code submission", "5c6d7e8f9a0b1c2d")
    score: float = number(ge=0, le=1_000_000, description="points earned", examples=[80])
    max_score: float = number(default=100.0, gt=0, le=1_000_000, description="points possible", examples=[100])
    attempt: int | None = int_field(default=None, ge=0, description="the learner's attempt number", examples=[1])


class RecomputePayload(_Payload):
    user_id: str = Id("the learner", "u-1")
    course_id: str = Id("the course", "c-1")
    generation: int = int_field(default=0, ge=0, description="grading generation; an older one is skipped",
                                examples=[0])


class RegradeCoursePayload(_Payload):
    course_id: str = Id("the course", "c-1")
    rescore_quizzes: bool = Field(default=True, examples=[True],
                                  description="rescore stored attempts against the current answer keys")


# --------------------------------------------------------------------------- intake checks

def _check_quiz(session: Any, p: GradeQuizPayload) -> None:
    from domain.grading.quizzes import check_submission
    from domain.jobs.errors import InvalidPayload

    attempt, _, _ = check_submission(session, p.attempt_id, p.answers)
    if attempt.status == "graded":
        raise InvalidPayload("attempt_id", "this attempt was already graded")


def _check_assignment(session: Any, p: GradeAssignmentPayload) -> None:
    from domain.grading.assignments import check_grading

    check_grading(session, p.submission_id, p.rubric)


def _check_course(session: Any, p: RegradeCoursePayload) -> None:
    from domain.core.models import Course
    from domain.jobs.errors import InvalidPayload

    if session.get(Course, p.course_id) is None:
        raise InvalidPayload("course_id", f"no course {p.course_id!r}")


def _check_assignment_exists(session: Any, p: AssignPeerReviewsPayload) -> None:
    from domain.grading.models import Assignment
    from domain.jobs.errors import InvalidPayload

    if session.get(Assignment, p.assignment_id) is None:
        raise InvalidPayload("assignment_id", f"no assignment {p.assignment_id!r}")


def _check_review(session: Any, p: PeerReviewPayload) -> None:
    from domain.grading.models import PeerReview
    from domain.jobs.errors import InvalidPayload

    if session.get(PeerReview, p.review_id) is None:
        raise InvalidPayload("review_id", f"no peer review {p.review_id!r}")


KINDS = [
    JobKind(name="grade_quiz", payload=GradeQuizPayload, task="tasks.grading.grade_quiz", queue=QUEUE,
            validate=_check_quiz, description="Score a quiz attempt; store per-question results and feedback."),
    JobKind(name="grade_assignment", payload=GradeAssignmentPayload, task="tasks.grading.grade_assignment",
            queue=QUEUE, validate=_check_assignment,
            description="Score a submission on its rubric (late policy applied) or request a revision."),
    JobKind(name="assign_peer_reviews", payload=AssignPeerReviewsPayload, task="tasks.grading.assign_peer_reviews",
            queue=QUEUE, validate=_check_assignment_exists,
            description="Give each submission k peer reviewers (balanced, deterministic, never oneself)."),
    JobKind(name="submit_peer_review", payload=PeerReviewPayload, task="tasks.grading.submit_peer_review",
            queue=QUEUE, validate=_check_review, description="Record a peer review and refresh the peer score."),
    JobKind(name="record_code_score", payload=CodeScorePayload, task="tasks.grading.record_code_score",
            queue=QUEUE, description="Put a code-exercise score in the gradebook (best submission counts)."),
    JobKind(name="recompute_course_grade", payload=RecomputePayload, task="tasks.grading.recompute_course_grade",
            queue=QUEUE, description="Recompute one learner's course grade (coalesced, scheduled by grade changes)."),
    JobKind(name="regrade_course", payload=RegradeCoursePayload, task="tasks.grading.regrade_course", queue=QUEUE,
            validate=_check_course, description="Rescore and recompute every learner of a course, in chunks."),
]


def _code_score(data: dict) -> list[Enqueue]:
    """``submission.evaluated`` → record the score when the exercise belongs to a course."""
    if not data.get("course_id"):
        return []
    payload = {k: data[k] for k in ("user_id", "course_id", "exercise_id", "submission_id", "score")}
    if data.get("max_score"):
        payload["max_score"] = data["max_score"]
    if data.get("attempt") is not None:
        payload["attempt"] = data["attempt"]
    return [Enqueue("record_code_score", payload, idempotency_key=f"grading.code:{data['submission_id']}")]


REACTIONS = {"submission.evaluated": _code_score}
