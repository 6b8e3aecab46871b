"""Each default badge earned by a scripted history and not by a near miss; exactly once under
concurrent evaluations; the credential valid against the official OB 3.0 schema. PostgreSQL."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cli.families.achievements import seed
from domain.achievements import awarding, catalog
from domain.achievements.defaults import DEFAULTS
from domain.achievements.models import Award, Badge
from domain.certificates import credential
from domain.certificates.signing import SigningKey
from domain.db import unit_of_work
from tests.integration.achievements.history import BASE, History
from tests.support.specs import ob3_errors


@pytest.fixture
def history(database):
    seed(database.url)
    return History(database.url)


# the badges these tests are about: other tests of the session may define badges of their own
DEFAULT_SLUGS = {d["slug"] for d in DEFAULTS}


def _earned(url: str, uid: str) -> dict[str, int]:
    """The learner's default badges after an evaluation, with how many times each was awarded."""
    with unit_of_work(url) as s:
        awarding.evaluate_learners(s, [uid])
        rows = s.execute(select(Badge.slug, func.count()).join(Award, Award.badge_id == Badge.id)
                         .where(Award.user_id == uid, Award.revoked_at.is_(None), Badge.slug.in_(DEFAULT_SLUGS))
                         .group_by(Badge.slug)).all()
    return dict(rows)


def test_each_default_badge_is_earned_by_its_history_and_not_by_a_near_miss(history, database):
    h, url = history, database.url
    # Given learners whose histories meet each badge, and others who fall one short
    streak7, streak6 = h.learner(), h.learner()
    h.lessons(streak7, 7)
    h.lessons(streak6, 6)
    gap = h.learner()                                  # 30 active days but a gap in the middle: streak 15
    h.lessons(gap, 15)
    h.lessons(gap, 15, start=BASE + timedelta(days=16))
    master = h.learner()
    h.lessons(master, 30, start=BASE - timedelta(days=5))
    tokyo_early, tokyo_late = h.learner("Asia/Tokyo"), h.learner("Asia/Tokyo")
    h.lessons(tokyo_early, 3, at_hour_utc=21)          # 06:00 in Tokyo
    h.lessons(tokyo_late, 3, at_hour_utc=0)            # 09:00 in Tokyo (08:00 UTC would be 17:00)
    high, almost_high = h.learner(), h.learner()
    h.scores(high, [90, 95, 99, 91, 100])
    h.scores(almost_high, [90, 95, 99, 91, 89.9])
    perfect, almost_perfect = h.learner(), h.learner()
    h.scores(perfect, [100, 100], type_="assignment_graded")
    h.scores(almost_perfect, [99.99])
    one_course, three_courses, failed = h.learner(), h.learner(), h.learner()
    h.passed(one_course, 1)
    h.passed(three_courses, 3)
    h.passed(failed, 2, passed=False)
    social, shy = h.learner(), h.learner()
    h.peer_reviews(social, 5)
    h.peer_reviews(shy, 5)
    h.peer_reviews(shy, 0)
    with unit_of_work(url) as s:       # one of shy's five was never completed
        from domain.grading.models import PeerReview
        review = s.scalars(select(PeerReview).where(PeerReview.reviewer_id == shy)).first()
        review.completed_at = None
    h.roll_up()
    # When each learner is evaluated, Then exactly the badges their history meets are awarded
    assert _earned(url, streak7) == {"seven_day_streak": 1}
    assert _earned(url, streak6) == {}
    assert _earned(url, gap) == {"seven_day_streak": 1}
    assert _earned(url, master) == {"seven_day_streak": 1, "streak_master": 1}
    assert _earned(url, tokyo_early) == {"early_bird": 1}
    assert _earned(url, tokyo_late) == {}
    assert _earned(url, high) == {"high_scorer": 1, "perfect_score": 1}
    assert _earned(url, almost_high) == {}
    assert _earned(url, perfect) == {"perfect_score": 2}           # repeatable: once per perfect item
    assert _earned(url, almost_perfect) == {}
    assert _earned(url, one_course) == {"first_course": 1}
    assert _earned(url, three_courses) == {"first_course": 1, "course_completer": 1}
    assert _earned(url, failed) == {}
    assert _earned(url, social) == {"social_learner": 1}
    assert _earned(url, shy) == {}


def test_progress_says_how_far_a_learner_is(history, database):
    uid = history.learner()
    history.lessons(uid, 4)
    history.roll_up()
    with _session(database.url) as s:      # closed: an open read would hold its table locks
        mine = {p["badge"]: p["progress"] for p in catalog.of_learner(s, uid, "https://cw.test")["progress"]}
    assert mine["seven_day_streak"] == [{"rule": "streak", "have": 4, "need": 7}]
    assert mine["streak_master"] == [{"rule": "streak", "have": 4, "need": 30}]


def _session(url):
    from domain.db import session_factory

    return session_factory(url)()


def test_concurrent_evaluations_award_once(history, database):
    # Given a learner who meets two badges
    uid = history.learner()
    history.scores(uid, [100, 95, 96, 97, 98])
    # When eight evaluations run at once (duplicate events, a sweep, a redelivery)
    barrier, news = threading.Barrier(8), []

    def run():
        with unit_of_work(database.url) as s:
            barrier.wait()
            new, _ = awarding.evaluate_learners(s, [uid])
            news.extend(a["badge"].slug for a in new if a["badge"].slug in DEFAULT_SLUGS)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then each award exists once and was announced once
    assert sorted(news) == ["high_scorer", "perfect_score"]
    assert _earned(database.url, uid) == {"high_scorer": 1, "perfect_score": 1}


def test_an_award_credential_is_valid_open_badges_3(history, database):
    uid = history.learner()
    history.scores(uid, [100])
    _earned(database.url, uid)
    with unit_of_work(database.url) as s:
        award, badge = s.execute(select(Award, Badge).join(Badge, Badge.id == Award.badge_id)
                                 .where(Award.user_id == uid)).first()
        doc = catalog.award_credential(award, badge, "https://cw.test", "Coursework")
    key = SigningKey.generate()
    signed = credential.sign(doc, key, credential.verification_method(credential.issuer_id("https://cw.test"),
                                                                      key.key_id), created=award.earned_at)
    assert ob3_errors(signed) == []
    assert credential.verify_credential(signed, key.public)
