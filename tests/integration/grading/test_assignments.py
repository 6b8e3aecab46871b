"""Assignments: lifecycle, rubric grading with a late penalty, hard deadline, revisions, peer review."""
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.db import unit_of_work, utcnow
from domain.grading import assignments, authoring
from domain.grading.models import GradeItem, PeerReview, Submission
from tests.integration.grading.conftest import count, events, make_course
from tests.support.jobs import run_job

RUBRIC = [
    {"id": "clarity", "levels": [{"id": "poor", "points": 0}, {"id": "good", "points": 3}, {"id": "great", "points": 5}]},
    {"id": "correctness", "levels": [{"id": "no", "points": 0}, {"id": "yes", "points": 5}]},
]
LATE = {"grace_minutes": 60, "percent_per_day": 10, "max_percent": 50, "hard_cutoff_hours": 72}


def _assignment(course, due_in_hours: float, **kw):
    with unit_of_work(course.url) as s:
        return authoring.create_assignment(s, course.course_id, "Essay", RUBRIC,
                                           due_at=utcnow() + timedelta(hours=due_in_hours), late_policy=LATE, **kw).id


def _submit(course, assignment_id, user, at=None):
    with unit_of_work(course.url) as s:
        assignments.start(s, assignment_id, user)
        return assignments.submit(s, assignment_id, user, "my essay", now=at).id


def test_late_submission_is_graded_on_the_rubric_with_its_penalty(api, course):
    # Given an assignment due 30 hours ago and a submission now (2 started days late → 20 % off)
    assignment_id = _assignment(course, -30)
    learner = course.learners[0]
    submission = _submit(course, assignment_id, learner)
    # When an instructor grades it: great + yes = 10 / 10
    job = run_job(api, "grade_assignment", {"submission_id": submission, "feedback": "Well argued",
                                            "rubric": {"clarity": "great", "correctness": "yes"}})
    # Then the score carries the late penalty, the gradebook and the event say 80 %
    assert job["state"] == "succeeded", job
    assert (job["result"]["raw_score"], job["result"]["late_penalty_percent"], job["result"]["score"]) == (10, 20, 8)
    with unit_of_work(course.url) as s:
        sub = s.get(Submission, submission)
        assert (sub.status, sub.feedback, sub.rubric_choices["clarity"]) == ("graded", "Well argued", "great")
        item = s.scalar(select(GradeItem).where(GradeItem.source_id == assignment_id, GradeItem.user_id == learner))
        assert (item.score, item.max_score, item.category) == (8, 10, "assignment")
    assert events(course.url, "assignment.graded", learner) == [{
        "user_id": learner, "course_id": course.course_id, "assignment_id": assignment_id,
        "submission_id": submission, "score_pct": 80.0}]


def test_revision_request_then_resubmission(api, course):
    assignment_id = _assignment(course, 24)
    learner = course.learners[1]
    submission = _submit(course, assignment_id, learner)
    # a second hand-in without a revision request is refused
    with pytest.raises(assignments.WrongState), unit_of_work(course.url) as s:
        assignments.submit(s, assignment_id, learner, "again")
    job = run_job(api, "grade_assignment", {"submission_id": submission, "request_revision": True,
                                            "feedback": "Add sources", "rubric": {"clarity": "poor", "correctness": "no"}})
    assert job["result"]["status"] == "revision_requested", job
    assert count(course.url, GradeItem, GradeItem.source_id == assignment_id) == 0
    assert _submit(course, assignment_id, learner) == submission
    job = run_job(api, "grade_assignment", {"submission_id": submission, "rubric": {"clarity": "good", "correctness": "yes"}})
    assert job["result"]["score"] == 8 and job["result"]["late_penalty_percent"] == 0
    with unit_of_work(course.url) as s:
        assert s.get(Submission, submission).revision == 1


def test_hard_deadline_and_unknown_rubric_levels_are_refused(api, course):
    # Given an assignment whose hard cut-off (due + 72 h) passed an hour ago
    assignment_id = _assignment(course, -73)
    learner = course.learners[2]
    # When the learner submits, Then it is refused with a clear error and nothing is written
    with pytest.raises(assignments.SubmissionClosed) as err, unit_of_work(course.url) as s:
        assignments.submit(s, assignment_id, learner, "too late")
    assert "hard deadline" in str(err.value)
    assert count(course.url, Submission, Submission.assignment_id == assignment_id) == 0
    # And a submission the web tier wrote after the cut-off cannot be graded (422 at intake)
    with unit_of_work(course.url) as s:
        row = Submission(assignment_id=assignment_id, user_id=learner, status="submitted", submitted_at=utcnow())
        s.add(row)
        s.flush()
        late_id = row.id
    r = api.post("/v1/jobs", json={"kind": "grade_assignment", "payload": {
        "submission_id": late_id, "rubric": {"clarity": "good", "correctness": "yes"}}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "submission_id", r.text
    # And a rubric level that does not exist names its criterion
    ok_assignment = _assignment(course, 5)
    submission = _submit(course, ok_assignment, learner)
    r = api.post("/v1/jobs", json={"kind": "grade_assignment", "payload": {
        "submission_id": submission, "rubric": {"clarity": "superb", "correctness": "yes"}}})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"] == [{"field": "rubric.clarity",
                                             "message": "no level 'superb'; levels are poor, good, great"}]
    with unit_of_work(course.url) as s:
        assert s.get(Submission, submission).status == "submitted"
    assert count(course.url, GradeItem, GradeItem.user_id == learner) == 0


def test_peer_reviews_are_assigned_balanced_and_aggregate_into_the_peer_score(api, database):
    # Given five learners who handed in an assignment where peers count for half the grade
    course = make_course(database.url, learners=5)
    assignment_id = _assignment(course, 24, peer_weight=0.5)
    subs = {u: _submit(course, assignment_id, u) for u in course.learners}
    # When reviews are assigned with k = 2 (twice: a rerun adds nothing)
    job = run_job(api, "assign_peer_reviews", {"assignment_id": assignment_id, "k": 2})
    again = run_job(api, "assign_peer_reviews", {"assignment_id": assignment_id, "k": 2})
    # Then each submission has 2 reviewers, nobody reviews themselves, each reviewer has 2
    assert job["result"]["reviews"] == 10 and job["result"]["per_reviewer"] == [2], job
    assert again["state"] == "succeeded"
    with unit_of_work(course.url) as s:
        reviews = list(s.scalars(select(PeerReview).join(Submission, PeerReview.submission_id == Submission.id)
                                 .where(Submission.assignment_id == assignment_id)))
        owner = {sid: u for u, sid in subs.items()}
        assert len(reviews) == 10
        assert all(owner[r.submission_id] != r.reviewer_id for r in reviews)
        assert set(Counter(r.reviewer_id for r in reviews).values()) == {2}
        target = subs[course.learners[0]]
        mine = [r.id for r in reviews if r.submission_id == target]
    # When the instructor grades 10/10 and the two peers rate 4 and 2 (of 5)
    run_job(api, "grade_assignment", {"submission_id": target, "rubric": {"clarity": "great", "correctness": "yes"}})
    for review_id, rating in zip(mine, (4, 2)):
        assert run_job(api, "submit_peer_review", {"review_id": review_id, "rating": rating,
                                                   "feedback": "ok"})["state"] == "succeeded"
    # Then the peer score is 60 % and the gradebook blends it: 0.5 × 100 + 0.5 × 60 = 80 %
    with unit_of_work(course.url) as s:
        assert s.get(Submission, target).peer_score == pytest.approx(60.0)
        item = s.scalar(select(GradeItem).where(GradeItem.source_id == assignment_id,
                                                GradeItem.user_id == course.learners[0]))
        assert item.score == pytest.approx(8.0)
    r = api.post("/v1/jobs", json={"kind": "submit_peer_review", "payload": {"review_id": "nope", "rating": 3}})
    assert r.status_code == 422
    r = api.post("/v1/jobs", json={"kind": "submit_peer_review", "payload": {"review_id": mine[0], "rating": 6}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "payload.rating"


def test_late_submissions_join_the_peer_review_balanced(api, database):
    # Given six learners of whom four handed in and got k = 2 reviewers each
    course = make_course(database.url, learners=6)
    assignment_id = _assignment(course, 24, peer_weight=0.5)
    subs = {u: _submit(course, assignment_id, u) for u in course.learners[:4]}
    first = run_job(api, "assign_peer_reviews", {"assignment_id": assignment_id, "k": 2})["result"]
    assert (first["added"], first["reviews"], first["per_reviewer"], first["per_submission"]) == (8, 8, [2], [2])

    def pairs():
        with unit_of_work(course.url) as s:
            return {(r.submission_id, r.reviewer_id) for r in s.scalars(
                select(PeerReview).join(Submission, PeerReview.submission_id == Submission.id)
                .where(Submission.assignment_id == assignment_id))}
    before = pairs()
    # When two more hand in late and reviews are assigned again (then once more: a rerun)
    subs |= {u: _submit(course, assignment_id, u) for u in course.learners[4:]}
    late = run_job(api, "assign_peer_reviews", {"assignment_id": assignment_id, "k": 2})["result"]
    rerun = run_job(api, "assign_peer_reviews", {"assignment_id": assignment_id, "k": 2})["result"]
    # Then the earlier pairs are all kept, the late ones have 2 reviewers, loads are within one
    after = pairs()
    assert before <= after
    owner = {sid: u for u, sid in subs.items()}
    per_submission = Counter(sid for sid, _ in after)
    per_reviewer = Counter(r for _, r in after)
    assert all(owner[sid] != reviewer for sid, reviewer in after)
    assert min(per_submission[subs[u]] for u in course.learners) >= 2
    assert max(per_reviewer[u] for u in course.learners) - min(per_reviewer[u] for u in course.learners) <= 1
    # And the job's result is what the database holds, not the plan
    assert late["reviews"] == len(after) and late["added"] == len(after) - len(before)
    assert late["per_reviewer"] == sorted(set(per_reviewer.values()))
    assert late["per_submission"] == sorted(set(per_submission.values()))
    assert rerun["added"] == 0 and rerun["reviews"] == len(after)


def test_peer_review_runs_at_the_same_time_add_each_pair_once(api, database):
    # Given six hand-ins, When three assign_peer_reviews jobs are enqueued at once
    from tests.support.jobs import enqueue, wait_job

    course = make_course(database.url, learners=6)
    assignment_id = _assignment(course, 24, peer_weight=0.5)
    for u in course.learners:
        _submit(course, assignment_id, u)
    jobs = [enqueue(api, "assign_peer_reviews", {"assignment_id": assignment_id, "k": 2}) for _ in range(3)]
    results = [wait_job(api, j["id"])["result"] for j in jobs]
    # Then one of them added the 12 pairs, the others found them, and every count is the database's
    assert sorted(r["added"] for r in results) == [0, 0, 12], results
    assert all((r["reviews"], r["per_reviewer"], r["per_submission"]) == (12, [2], [2]) for r in results)
