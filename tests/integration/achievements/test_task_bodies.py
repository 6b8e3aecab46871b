"""Achievement task bodies as plain functions: a real JobContext on a claimed job, no Celery."""
from __future__ import annotations

from sqlalchemy import select

from cli.families.achievements import seed
from domain.db import unit_of_work
from domain.jobs.models import JobEvent
from tasks.achievements import evaluate_learner
from tests.integration.achievements.history import History
from tests.support.context import job_context


def test_evaluate_learner_awards_a_badge_once_and_announces_it(database):
    # Given a learner who passed one course
    seed(database.url)
    history = History(database.url)
    learner = history.learner()
    history.passed(learner, 1)
    # When the task body runs, and runs again (a redelivery)
    ctx, payload = job_context(database.url, "evaluate_achievements", {"user_id": learner})
    first = evaluate_learner.body(ctx, payload)
    again = evaluate_learner.body(ctx, payload)
    # Then the badge is awarded the first time only, with one event for the learner
    assert first == {"awarded": ["first_course"], "revoked": 0}
    assert again["awarded"] == []
    with unit_of_work(database.url) as session:
        earned = session.scalars(select(JobEvent.user_id).where(JobEvent.job_id == ctx.job_id,
                                                                JobEvent.type == "achievement.earned")).all()
    assert earned == [learner]
