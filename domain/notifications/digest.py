"""The daily digest: a user's email deliveries waiting in ``digest`` become one email."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain.notifications import deliveries
from domain.notifications.models import DIGEST, DIGESTED, Delivery, Notification
from domain.notifications.types import EMAIL

MAX_ITEMS = 100


def users_waiting(session: Session, after: str = "", limit: int = 1000) -> list[str]:
    """Users with digest items, a keyset page at a time (the beat entry walks them)."""
    return list(session.scalars(select(Delivery.user_id).where(Delivery.channel == EMAIL, Delivery.status == DIGEST,
                                                               Delivery.user_id > after)
                                .group_by(Delivery.user_id).order_by(Delivery.user_id).limit(limit)))


def build(session: Session, user_id: str, day: date, job_id: str | None = None) -> Notification | None:
    """Fold the waiting items into one ``daily_digest`` notification (idempotent per user and day)."""
    key = f"digest:{user_id}:{day.isoformat()}"
    existing = session.scalar(select(Notification).where(Notification.dedupe_key == key))
    if existing is not None:
        return existing
    rows = list(session.execute(
        select(Delivery.id, Notification.title, Notification.link, Notification.type)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.user_id == user_id, Delivery.channel == EMAIL, Delivery.status == DIGEST)
        .order_by(Delivery.created_at).limit(MAX_ITEMS).with_for_update(of=Delivery, skip_locked=True)))
    if not rows:
        return None
    items = [{"title": title, "link": link, "type": type_} for _, title, link, type_ in rows]
    note = deliveries.upsert_notification(session, type_name="daily_digest", data={"items": items,
                                          "day": day.isoformat()}, dedupe_key=key)
    deliveries.add_deliveries(session, note, [user_id], job_id=job_id)
    session.execute(update(Delivery).where(Delivery.id.in_([r[0] for r in rows]))
                    .values(status=DIGESTED, digest_id=note.id).execution_options(synchronize_session=False))
    return note
