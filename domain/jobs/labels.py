"""How a job reads in Flower and logs: its id, its kind and a short label from its payload
(the course, asset, exercise... it is about), as the Celery message's ``argsrepr``."""
from __future__ import annotations

# payload ids worth showing, most telling first; at most two are shown
LABEL_KEYS = ("course_id", "asset_id", "exercise_id", "submission_id", "assignment_id", "quiz_id",
              "attempt_id", "certificate_id", "notification_id", "session_id", "reply_id", "user_id")
MAX_VALUE = 24


def label(payload: dict | None) -> str:
    """``"course=c1 asset=a7"``: up to two ids from the payload ("" when it has none)."""
    if not isinstance(payload, dict):
        return ""
    parts = []
    for key in LABEL_KEYS:
        value = payload.get(key)
        if value is not None and value != "":
            parts.append(f"{key.removesuffix('_id')}={str(value)[:MAX_VALUE]}")
            if len(parts) == 2:
                break
    return " ".join(parts)


def task_argsrepr(job_id: str, kind: str, payload: dict | None) -> str:
    """What Flower shows as the task's arguments: ``job=<id> kind=<kind> course=… asset=…``."""
    text = f"job={job_id} kind={kind}"
    extra = label(payload)
    return f"{text} {extra}" if extra else text
