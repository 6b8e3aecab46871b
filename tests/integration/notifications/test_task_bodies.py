"""Notification task bodies as plain functions: a real JobContext on a claimed job, no Celery."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from domain.db import unit_of_work
from domain.notifications.models import Delivery
from tasks.notifications import notify, send_digest
from tests.integration.notifications.people import make_user
from tests.support.context import job_context
from tests.support.stack import wait_for


def test_send_digest_mails_the_waiting_items_in_one_email(database, redis_server, smtp_server):
    # Given a learner with two digest-mode notifications, written by the notify task body
    user = make_user(database.url, "Digest Body")
    for type_, data in (("badge_earned", {"badge_name": "Streak"}), ("lesson_reminder", {"lesson_title": "L2"})):
        ctx, payload = job_context(database.url, "notify", {"user_id": user["id"], "type": type_, "data": data})
        result = notify.body(ctx, payload)
        assert result["created"] == {"in_app": 1, "email": 1} and result["email"]["sent"] == 0   # held back
    assert smtp_server.to(user["email"]) == []
    # When the digest task body runs for today
    day = date.today().isoformat()
    ctx, payload = job_context(database.url, "send_digest", {"user_id": user["id"], "day": day})
    result = send_digest.body(ctx, payload)
    # Then it reports both items and one email sent, which lists them, and the rows are marked
    assert result["items"] == 2 and result["email"]["sent"] == 1
    [mail] = wait_for(lambda: smtp_server.to(user["email"]), message="the digest email")
    assert mail["subject"] == "Your daily summary: 2 update(s)" and "Streak" in mail["text"]
    with unit_of_work(database.url) as session:
        statuses = sorted(session.scalars(select(Delivery.status).where(Delivery.user_id == user["id"],
                                                                        Delivery.channel == "email")))
    assert statuses == ["digested", "digested", "sent"]
    # And a rerun (a redelivery) finds the same digest and sends nothing again
    again = send_digest.body(ctx, payload)
    assert again["notification_id"] == result["notification_id"] and again["email"]["sent"] == 0
    assert len(smtp_server.to(user["email"])) == 1
