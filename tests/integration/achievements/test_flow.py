"""Through the real intake and worker: badges defined by API with clear 422s, an event's reaction
awarding once and notifying once, and a backfill that resumes after a crash without duplicates."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select

from cli.families.achievements import seed
from domain.achievements import awarding, evaluate, rules
from domain.achievements.models import Award, Badge
from domain.db import unit_of_work
from domain.jobs import enqueueing
from domain.jobs.models import Job
from tests.integration.achievements.history import BASE, History
from tests.support.jobs import wait_job
from tests.support.stack import wait_for


def test_definitions_are_validated_and_unique(api, database):
    bad = api.post("/v1/badges", json={"slug": "night_owl", "name": "Night owl",
                                       "criteria": {"type": "events", "event": "login", "at_least": 1,
                                                    "local_hours": [23, 2]}})
    assert bad.status_code == 422, bad.text
    assert any(d["field"].startswith("criteria") for d in bad.json()["error"]["details"])
    good = {"slug": f"night_owl_{History(database.url).tag}", "name": "Night owl", "backfill": False,
            "criteria": {"type": "events", "event": "login", "at_least": 1, "local_hours": [0, 4]}}
    first = api.post("/v1/badges", json=good)
    assert first.status_code == 201, first.text
    assert first.json()["backfill_job_id"] is None
    again = api.post("/v1/badges", json=good)
    assert again.status_code == 409 and again.json()["error"]["details"][0]["field"] == "slug"


def test_a_graded_event_awards_once_and_notifies_once(api, database):
    # Given the default badges and a learner with five top scores
    seed(database.url)
    h = History(database.url)
    uid = h.learner()
    h.scores(uid, [100, 99, 98, 97, 96])
    # When the grading family's event arrives twice (a redelivered job emits it again)
    for _ in range(2):
        with unit_of_work(database.url) as s:
            enqueueing.emit(s, None, "quiz.graded", {"user_id": uid, "course_id": None, "attempt_id": f"a-{uid}",
                                                  "score_pct": 100})
    # Then one evaluation job ran, and the two badges were awarded and notified once each
    def jobs(kind):
        with unit_of_work(database.url) as s:
            return list(s.scalars(select(Job).where(Job.kind == kind, Job.payload["user_id"].as_string() == uid)))
    [evaluation] = wait_for(lambda: jobs("evaluate_achievements") or None, message="the evaluation job")
    assert wait_job(api, evaluation.id)["state"] == "succeeded"
    mine = api.get(f"/v1/users/{uid}/achievements").json()
    assert sorted(a["badge"] for a in mine["earned"]) == ["high_scorer", "perfect_score"]
    notes = wait_for(lambda: [j for j in jobs("notify") if j.payload["type"] == "badge_earned"] or None,
                     message="badge notifications")
    assert len(notes) == 2
    cred = api.get(urlsplit(mine["earned"][0]["credential_url"]).path)
    assert cred.status_code == 200 and cred.json()["proof"][0]["cryptosuite"] == "eddsa-jcs-2022"


def test_a_backfill_killed_midway_resumes_without_duplicates(api, database):
    # Given a new badge over a history of 25 learners who meet it, and 10 awards a killed backfill wrote
    h = History(database.url)
    learners = [h.learner() for _ in range(25)]
    h.events([h._event(uid, "login", BASE + timedelta(hours=n)) for uid in learners for n in (0, 1)])
    r = api.post("/v1/badges", json={"slug": f"regular_{h.tag}", "name": "Regular", "backfill": False,
                                     "criteria": {"type": "events", "event": "login", "at_least": 2}})
    assert r.status_code == 201, r.text
    badge_id = r.json()["badge"]["id"]
    with unit_of_work(database.url) as s:
        badge = s.get(Badge, badge_id)
        earned = evaluate.qualifying(s, rules.parse(badge.criteria), course_id=None, repeatable=False)
        assert set(learners) <= set(earned)
        first_chunk = dict(sorted(earned.items())[:10])
        awarding.write(s, badge, first_chunk, backfilled=True)
    # When the backfill runs again (a new run after the crash)
    job = api.post("/v1/jobs", json={"kind": "backfill_badge", "payload": {"badge_id": badge_id}}).json()["job"]
    done = wait_job(api, job["id"])
    # Then it wrote only what was missing, reported its progress, and every learner holds it once
    assert done["state"] == "succeeded", done
    assert done["result"]["awarded"] == len(earned) - 10 and done["progress"] == 100
    with unit_of_work(database.url) as s:
        per_user = dict(s.execute(select(Award.user_id, func.count()).where(Award.badge_id == badge_id)
                                  .group_by(Award.user_id)).all())
    assert set(learners) <= set(per_user) and set(per_user.values()) == {1}
    counts = {b["slug"]: b["awarded"] for b in api.get("/v1/badges").json()["badges"]}
    assert counts[f"regular_{h.tag}"] == len(earned)



def test_a_revoked_award_is_set_in_its_status_list_and_its_credential_says_so(api, database):
    from domain.achievements import catalog
    from domain.certificates import status_list
    from domain.db import utcnow
    from tests.support.specs import ob3_errors

    # Given a revocable badge a learner earned, and the credential they exported
    h = History(database.url)
    uid = h.learner()
    h.scores(uid, [100])
    r = api.post("/v1/badges", json={"slug": f"ace_{h.tag}", "name": "Ace", "revocable": True, "backfill": False,
                                     "criteria": {"type": "scores", "min_score": 100, "items": 1}})
    badge_id = r.json()["badge"]["id"]
    with unit_of_work(database.url) as s:
        awarding.evaluate_learners(s, [uid])
    [award] = [a for a in api.get(f"/v1/users/{uid}/achievements").json()["earned"] if a["badge"] == f"ace_{h.tag}"]
    exported = api.get(urlsplit(award["credential_url"]).path).json()
    assert ob3_errors(exported) == []
    entry = exported["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry" and "/v1/achievements/status/" in entry["statusListCredential"]
    # When a regrade unmeets the rule (the learner no longer earns it)
    with unit_of_work(database.url) as s:
        badge = s.get(Badge, badge_id)
        assert awarding.revoke_unmet(s, badge, [uid], {}, utcnow()) == 1
    # Then the status list an offline verifier reads has the award's bit set, and the credential says revoked
    listed = api.get(urlsplit(entry["statusListCredential"]).path).json()
    assert status_list.is_set(listed["credentialSubject"]["encodedList"], int(entry["statusListIndex"]))
    gone = api.get(urlsplit(award["credential_url"]).path)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "revoked"
    with unit_of_work(database.url) as s:
        assert catalog.revoked_bits(s, int(entry["statusListCredential"].rsplit("/", 1)[1])) is not None


def test_a_backfill_whose_worker_is_sigkilled_resumes_on_another_and_awards_once(s3_server):
    import signal

    from tests.support.stack import Database, Stack, private_redis

    # Given a stack of its own (backfill chunks of 5 learners) and 1,500 learners who meet a badge
    db, redis_server = Database().create(), private_redis()
    st = Stack(db, redis_server.url, s3_server.endpoint, extra_env={"COURSEWORK_ACHIEVEMENTS_CHUNK": "5"})
    try:
        st.start_intake()
        key = st.create_key("enqueue,read,operate")
        h = History(db.url)
        learners = [f"bf{h.tag}{i:04d}" for i in range(1500)]
        with unit_of_work(db.url) as s:
            from domain.core.models import User

            s.add_all([User(id=u, email=f"{u}@example.test", name=u) for u in learners])
        h.events([h._event(u, "login", BASE + timedelta(hours=n)) for u in learners for n in (0, 1)])
        victim = st.start_worker(queues="analytics", concurrency=1, name="victim")
        with st.client(key) as api:
            r = api.post("/v1/badges", json={"slug": f"regular_{h.tag}", "name": "Regular",
                                             "criteria": {"type": "events", "event": "login", "at_least": 2}})
            assert r.status_code == 201, r.text
            badge_id, job_id = r.json()["badge"]["id"], r.json()["backfill_job_id"]

            def awarded() -> int:
                with unit_of_work(db.url) as s:
                    return s.scalar(select(func.count()).select_from(Award).where(Award.badge_id == badge_id))

            # When the worker is SIGKILLed while the backfill is part way through
            wait_for(lambda: awarded() >= 50, timeout=120, message="the backfill under way")
            victim.signal_group(signal.SIGKILL)
            at_kill = awarded()
            assert 0 < at_kill < len(learners), f"the kill came too late to test a resume ({at_kill})"
            st.start_worker(queues="analytics", concurrency=1, name="rescuer")
            # Then the job is requeued once its lease expires and finishes on the other worker,
            # writing only what was missing: every learner holds the badge once
            done = wait_job(api, job_id, timeout=180)
            assert done["state"] == "succeeded" and done["attempts"] == 2, done
            assert done["result"]["awarded"] <= len(learners) - at_kill
            with unit_of_work(db.url) as s:
                per_user = dict(s.execute(select(Award.user_id, func.count()).where(Award.badge_id == badge_id)
                                          .group_by(Award.user_id)).all())
            assert set(per_user) == set(learners) and set(per_user.values()) == {1}
    finally:
        st.stop()
        redis_server.stop()
        db.drop()
