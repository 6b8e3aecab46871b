"""A delivery whose claim the database refuses is retried however often that happened before:
its message is all that knows of the job (the outbox row is already marked published)."""
from __future__ import annotations

import pytest
from celery.exceptions import Retry
from sqlalchemy.exc import OperationalError

from tasks.ping import ping
from workers import base


def test_a_refused_claim_is_retried_after_many_earlier_retries(monkeypatch):
    def refused(*args, **kwargs):
        raise OperationalError("claim", {}, ConnectionRefusedError("database away"))

    monkeypatch.setattr(base.runs, "claim", refused)
    ping.push_request(id="delivery-1", retries=10, is_eager=True, called_directly=False,
                      args=["job-1"], kwargs={})
    try:
        with pytest.raises(Retry):            # not the OperationalError: Celery's cap of 3 is off
            base.execute(ping, "job-1")
    finally:
        ping.pop_request()
