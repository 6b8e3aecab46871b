"""Serial = concurrent = oracle: the same grading jobs run one by one, and all at once on real
workers (a prefork worker, a threads worker and the shared one), leave the same gradebook, and
that gradebook is what the independent oracle computes from the documented rules."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.db import unit_of_work, utcnow
from domain.grading import assignments, authoring, quizzes
from domain.grading.models import CourseGrade, GradeItem, PeerReview, Submission
from domain.jobs.models import Job
from tests.integration.grading import oracle
from tests.integration.grading.conftest import make_course, settled_grade, wait_until
from tests.support.jobs import TERMINAL, enqueue, run_job

LEARNERS = 6
QUIZ_A = [(2.0, {"type": "single_choice", "options": ["a", "b", "c", "d"], "correct": 2}),
          (2.0, {"type": "multiple_choice", "options": ["a", "b", "c", "d"], "correct": [0, 3]}),
          (1.0, {"type": "true_false", "correct": True})]
QUIZ_B = [(1.0, {"type": "numeric", "value": 2.5, "abs_tolerance": 0.01}),
          (3.0, {"type": "single_choice", "options": ["x", "y", "z"], "correct": 0})]
CHOICES_A = [[0, 1, 2, 3, None], [[0], [0, 3], [3], [1, 2], [], None], [True, False, None]]
CHOICES_B = [[2.5, 2.505, 3, -1e300, None], [0, 1, 2, None]]
SCHEME_1 = {"categories": {"quiz": {"weight": 40, "drop_lowest": 1}, "assignment": {"weight": 40},
                           "code": {"weight": 20, "expected": 3}}, "pass_threshold": 60}
SCHEME_2 = {"categories": {"quiz": {"weight": 20, "drop_lowest": 1}, "assignment": {"weight": 50},
                           "code": {"weight": 30, "expected": 3}}, "pass_threshold": 50}
RUBRIC = [{"id": "clarity", "levels": [{"id": "poor", "points": 0}, {"id": "good", "points": 3},
                                       {"id": "great", "points": 5}]},
          {"id": "correctness", "levels": [{"id": "no", "points": 0}, {"id": "yes", "points": 5}]}]
POINTS = {"poor": 0, "good": 3, "great": 5, "no": 0, "yes": 5}
LATE = {"grace_minutes": 60, "percent_per_day": 10, "max_percent": 50}
PEER_WEIGHT = 0.3


@dataclass
class Scenario:
    """What every learner does, as data (the same for the serial and the concurrent course)."""
    attempts: dict[tuple[int, str], list[dict[int, object]]] = field(default_factory=dict)
    late_hours: dict[int, float] = field(default_factory=dict)
    rubric: dict[int, dict[str, str]] = field(default_factory=dict)
    ratings: dict[int, list[float]] = field(default_factory=dict)   # per author, in reviewer order
    code: dict[int, list[tuple[str, float]]] = field(default_factory=dict)
    order: list[tuple] = field(default_factory=list)                # the jobs, in one order


def make_scenario(seed: int) -> Scenario:
    """Each learner's jobs come together (shuffled among themselves), so that the concurrent run
    has several jobs of the same learner in flight at once."""
    rnd = random.Random(seed)
    sc = Scenario()
    for i in range(LEARNERS):
        mine = []
        for quiz, choices, count in (("A", CHOICES_A, 3), ("B", CHOICES_B, 2)):
            sc.attempts[(i, quiz)] = [{q: rnd.choice(c) for q, c in enumerate(choices)} for _ in range(count)]
            mine += [("quiz", i, quiz, n) for n in range(count)]
        sc.late_hours[i] = rnd.choice([-5.0, 0.5, 30.0, 50.0])
        sc.rubric[i] = {"clarity": rnd.choice(["poor", "good", "great"]), "correctness": rnd.choice(["no", "yes"])}
        sc.ratings[i] = [float(rnd.randint(0, 5)) for _ in range(2)]
        mine += [("assignment", i), ("review", i, 0), ("review", i, 1)]
        sc.code[i] = [(f"ex{n % 2}", float(rnd.randint(0, 100))) for n in range(4)]
        mine += [("code", i, n) for n in range(4)]
        rnd.shuffle(mine)
        sc.order += mine
    half = len(sc.order) // 2
    sc.order = [("regrade",)] + sc.order[:half] + [("weights",), ("regrade",)] + sc.order[half:]
    return sc


@dataclass
class CourseSetup:
    url: str
    course_id: str
    learners: list[str]
    quizzes: dict[str, str]
    attempt_ids: dict[tuple[int, str], list[str]]
    assignment_id: str
    submissions: dict[int, str]
    reviews: dict[int, list[str]]          # per author, in reviewer order


def set_up(url: str, sc: Scenario, due) -> CourseSetup:
    """The web tier's part: content, attempts started, work handed in, reviews assigned."""
    course = make_course(url, learners=LEARNERS, scheme=SCHEME_1)
    with unit_of_work(url) as s:
        quiz_ids = {
            "A": authoring.create_quiz(s, course.course_id, "A", [{"points": p, "spec": q} for p, q in QUIZ_A],
                                       attempt_policy="best").id,
            "B": authoring.create_quiz(s, course.course_id, "B", [{"points": p, "spec": q} for p, q in QUIZ_B],
                                       attempt_policy="average").id}
        assignment_id = authoring.create_assignment(s, course.course_id, "Essay", RUBRIC, due_at=due,
                                                    late_policy=LATE, peer_weight=PEER_WEIGHT).id
    attempt_ids = {}
    with unit_of_work(url) as s:
        for (i, quiz), attempts in sc.attempts.items():
            attempt_ids[(i, quiz)] = [quizzes.start_attempt(s, quiz_ids[quiz], course.learners[i],
                                                            now=due - timedelta(days=1)).id for _ in attempts]
        submissions = {}
        for i, user in enumerate(course.learners):
            assignments.start(s, assignment_id, user)
            submissions[i] = assignments.submit(s, assignment_id, user, "essay",
                                                now=due + timedelta(hours=sc.late_hours[i])).id
        assert assignments.assign_reviews(s, assignment_id, 2)["per_submission"] == [2]
    index = {u: i for i, u in enumerate(course.learners)}
    with unit_of_work(url) as s:
        reviews = {i: [] for i in range(LEARNERS)}
        author = {sid: i for i, sid in submissions.items()}
        for review in s.scalars(select(PeerReview).where(PeerReview.submission_id.in_(list(submissions.values())))):
            reviews[author[review.submission_id]].append((index[review.reviewer_id], review.id))
    return CourseSetup(url, course.course_id, course.learners, quiz_ids, attempt_ids, assignment_id, submissions,
                       {i: [rid for _, rid in sorted(r)] for i, r in reviews.items()})


def question_ids(url: str, quiz_id: str) -> list[str]:
    with unit_of_work(url) as s:
        return [q.id for q in quizzes.questions_of(s, quiz_id)]


def job_of(step: tuple, sc: Scenario, c: CourseSetup, qids: dict[str, list[str]]) -> tuple[str, dict] | None:
    kind = step[0]
    if kind == "quiz":
        _, i, quiz, n = step
        answers = [{"question_id": qids[quiz][q], "value": v} for q, v in sc.attempts[(i, quiz)][n].items()]
        return "grade_quiz", {"attempt_id": c.attempt_ids[(i, quiz)][n], "answers": answers}
    if kind == "assignment":
        return "grade_assignment", {"submission_id": c.submissions[step[1]], "rubric": sc.rubric[step[1]]}
    if kind == "review":
        _, i, n = step
        return "submit_peer_review", {"review_id": c.reviews[i][n], "rating": sc.ratings[i][n]}
    if kind == "code":
        _, i, n = step
        exercise, score = sc.code[i][n]
        return "record_code_score", {"user_id": c.learners[i], "course_id": c.course_id, "exercise_id": exercise,
                                     "submission_id": f"{c.course_id}-{i}-{n}", "score": score}
    if kind == "regrade":
        return "regrade_course", {"course_id": c.course_id}
    if kind == "weights":
        with unit_of_work(c.url) as s:
            authoring.set_scheme(s, c.course_id, SCHEME_2)
        return None
    raise AssertionError(step)


def wait_all_done(url: str, job_ids: list[str], timeout: float = 240) -> None:
    def done():
        with unit_of_work(url) as s:
            states = dict(s.execute(select(Job.id, Job.state).where(Job.id.in_(job_ids))).all())
        return states if len(states) == len(job_ids) and set(states.values()) <= TERMINAL else None
    states = wait_until(done, timeout, "every grading job to end")
    assert set(states.values()) == {"succeeded"}, {k: v for k, v in states.items() if v != "succeeded"}


def gradebook(c: CourseSetup) -> tuple[dict, dict]:
    """Items {(learner index, source label): (category, score, max)} and grades {index: (percent, letter, passed)}."""
    for user in c.learners:
        settled_grade(c.url, user, c.course_id, timeout=120)
    index = {u: i for i, u in enumerate(c.learners)}
    label = {c.quizzes["A"]: "quiz A", c.quizzes["B"]: "quiz B", c.assignment_id: "assignment"}
    with unit_of_work(c.url) as s:
        items = {(index[it.user_id], label.get(it.source_id, it.source_id)): (it.category, round(it.score, 6),
                                                                               it.max_score)
                 for it in s.scalars(select(GradeItem).where(GradeItem.course_id == c.course_id))}
        grades = {index[g.user_id]: (g.percent, g.letter, g.passed)
                  for g in s.scalars(select(CourseGrade).where(CourseGrade.course_id == c.course_id))}
    return items, grades


def expected(sc: Scenario, due) -> tuple[dict, dict]:
    """The oracle's gradebook for the scenario (the final scheme: the weight change happened)."""
    items, grades = {}, {}
    for i in range(LEARNERS):
        for quiz, questions, policy in (("A", QUIZ_A, "best"), ("B", QUIZ_B, "average")):
            scores = [oracle.attempt_score(questions, answers) for answers in sc.attempts[(i, quiz)]]
            points, most = oracle.quiz_points(policy, scores)
            items[(i, f"quiz {quiz}")] = ("quiz", round(points, 6), most)
        raw = sum(POINTS[level] for level in sc.rubric[i].values())
        penalty = oracle.late_penalty(due, due + timedelta(hours=sc.late_hours[i]), LATE)
        items[(i, "assignment")] = ("assignment", round(oracle.assignment_points(raw, 10, penalty, sc.ratings[i],
                                                                                 PEER_WEIGHT), 6), 10.0)
        for exercise in {e for e, _ in sc.code[i]}:
            items[(i, exercise)] = ("code", max(score for e, score in sc.code[i] if e == exercise), 100.0)
        grades[i] = oracle.course_grade(SCHEME_2, [v for (j, _), v in items.items() if j == i])
    return items, grades


@pytest.fixture(scope="module")
def more_workers(stack, worker):
    """A threads worker and a prefork worker on the grading queue, beside the shared one."""
    extra = [stack.start_worker(queues="grading", concurrency=4, pool="threads", name="grading-threads"),
             stack.start_worker(queues="grading", concurrency=3, pool="prefork", name="grading-prefork")]
    yield extra
    for child in extra:
        child.stop(timeout=5)
        stack.children.remove(child)


def test_serial_concurrent_and_oracle_agree(api, database, more_workers):
    logged = {child.log_path: child.log_path.stat().st_size for child in more_workers}
    play(api, database, seed=20)
    # the threads worker and the prefork worker both ran grading jobs of this run
    for path, start in logged.items():
        with open(path, "rb") as log:
            log.seek(start)
            assert b"Task tasks.grading." in log.read(), f"{path.name} ran no grading job"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_serial_concurrent_and_oracle_agree_on_more_scenarios(api, database, more_workers, seed):
    play(api, database, seed)


def play(api, database, seed: int) -> None:
    # Given one scenario (attempts of a best-of and an averaged quiz, a late-penalised and peer-reviewed
    # assignment, code scores, two regrades and a weight change) played on two identical courses
    sc = make_scenario(seed)
    due = utcnow().replace(microsecond=0) - timedelta(days=3)
    serial, concurrent = set_up(database.url, sc, due), set_up(database.url, sc, due)
    qids = {c.course_id: {q: question_ids(c.url, c.quizzes[q]) for q in "AB"} for c in (serial, concurrent)}

    # When the serial course's jobs run one at a time, in the scenario's order
    for step in sc.order:
        job = job_of(step, sc, serial, qids[serial.course_id])
        if job:
            assert run_job(api, *job, timeout=120)["state"] == "succeeded", step
    # And the concurrent course's jobs are all enqueued at once from eight threads
    ids: list[str] = []
    with ThreadPoolExecutor(8) as pool:
        pending = []
        for step in sc.order:
            job = job_of(step, sc, concurrent, qids[concurrent.course_id])   # "weights" happens right here
            if job:
                pending.append(pool.submit(enqueue, api, *job))
        ids = [f.result()["id"] for f in pending]
    wait_all_done(database.url, ids)

    # Then both gradebooks are the same, and equal to the oracle's
    serial_book, concurrent_book, oracle_book = gradebook(serial), gradebook(concurrent), expected(sc, due)
    assert len(oracle_book[0]) == LEARNERS * 5
    assert serial_book[0] == oracle_book[0]
    assert concurrent_book[0] == oracle_book[0]
    assert serial_book[1] == concurrent_book[1] == oracle_book[1]
    assert {p for p, _, _ in oracle_book[1].values()} != {0.0}          # the scenario grades something
    # And a regrade afterwards finds nothing to repair
    for c in (serial, concurrent):
        result = run_job(api, "regrade_course", {"course_id": c.course_id})["result"]
        assert (result["changed"], result["items_changed"], result["rescored_attempts"]) == (0, 0, 0), result


def test_regrade_repairs_drift_and_reports_it(api, database):
    # Given a graded scenario whose gradebook then drifted (an item and a grade overwritten, an item lost)
    sc = make_scenario(seed=7)
    due = utcnow().replace(microsecond=0) - timedelta(days=3)
    c = set_up(database.url, sc, due)
    qids = {q: question_ids(c.url, c.quizzes[q]) for q in "AB"}
    jobs = [job for job in (job_of(step, sc, c, qids) for step in sc.order) if job]
    wait_all_done(database.url, [enqueue(api, *job)["id"] for job in jobs])
    before = gradebook(c)
    first, second = c.learners[0], c.learners[1]
    with unit_of_work(c.url) as s:
        item = s.scalar(select(GradeItem).where(GradeItem.user_id == first, GradeItem.source_id == c.quizzes["A"]))
        item.score = 0.123
        s.delete(s.scalar(select(GradeItem).where(GradeItem.user_id == second,
                                                  GradeItem.source_id == c.assignment_id)))
        grade = s.scalar(select(CourseGrade).where(CourseGrade.user_id == second,
                                                   CourseGrade.course_id == c.course_id))
        grade.percent = 1.0
    # When the course is regraded
    result = run_job(api, "regrade_course", {"course_id": c.course_id, "rescore_quizzes": False})["result"]
    # Then it put back both items and the grade, and says so
    assert result["items_changed"] == 2, result
    changes = {(ch["user_id"], ch["source_id"]): (ch["old"], ch["new"]) for ch in result["item_changes"]}
    assert changes[(first, c.quizzes["A"])][0] == 0.123
    assert changes[(second, c.assignment_id)][0] is None
    assert second in {g["user_id"] for g in result["grade_changes"]}
    assert gradebook(c) == before
    with unit_of_work(c.url) as s:
        assert s.get(Submission, c.submissions[1]).status == "graded"
