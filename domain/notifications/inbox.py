"""The in-app inbox: a user's ``in_app`` deliveries that have not expired."""
from __future__ import annotations

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.notifications.models import Delivery, Notification
from domain.notifications.types import IN_APP


def _visible(user_id: str):
    return (Delivery.user_id == user_id, Delivery.channel == IN_APP,
            or_(Delivery.expires_at.is_(None), Delivery.expires_at > utcnow()))


def items(session: Session, user_id: str, *, unread_only: bool = False, limit: int = 50,
          before: str | None = None) -> list[dict]:
    """Newest first; ``before`` is the last delivery id of the previous page (keyset)."""
    stmt = (select(Delivery, Notification).join(Notification, Notification.id == Delivery.notification_id)
            .where(*_visible(user_id)).order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit))
    if unread_only:
        stmt = stmt.where(Delivery.read_at.is_(None))
    if before:
        anchor = session.get(Delivery, before)
        if anchor is not None:
            stmt = stmt.where(or_(Delivery.created_at < anchor.created_at,
                                  (Delivery.created_at == anchor.created_at) & (Delivery.id < anchor.id)))
    return [{"id": d.id, "notification": n.to_dict(), "read_at": d.read_at.isoformat() if d.read_at else None,
             "created_at": d.created_at.isoformat()} for d, n in session.execute(stmt)]


def unread_count(session: Session, user_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Delivery)
                          .where(*_visible(user_id), Delivery.read_at.is_(None))) or 0


def mark_read(session: Session, user_id: str, delivery_id: str) -> bool:
    """True when the item exists for this user (already read counts as done)."""
    row = session.scalar(select(Delivery).where(Delivery.id == delivery_id, *_visible(user_id)))
    if row is None:
        return False
    if row.read_at is None:
        row.read_at = utcnow()
    return True


def mark_all_read(session: Session, user_id: str) -> int:
    res = session.execute(update(Delivery).where(*_visible(user_id), Delivery.read_at.is_(None))
                          .values(read_at=utcnow()).execution_options(synchronize_session=False))
    return res.rowcount or 0


def purge_expired(session: Session, batch: int = 5000) -> int:
    """Delete a bounded batch of expired in-app items (beat runs this; a rerun is harmless)."""
    ids = list(session.scalars(select(Delivery.id).where(Delivery.channel == IN_APP, Delivery.expires_at.is_not(None),
                                                         Delivery.expires_at < utcnow()).limit(batch)))
    if ids:
        session.execute(delete(Delivery).where(Delivery.id.in_(ids)).execution_options(synchronize_session=False))
    return len(ids)
