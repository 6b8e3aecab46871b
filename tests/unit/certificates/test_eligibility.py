from domain.certificates.eligibility import Rule, decide

PASS = {"percent": 82.0, "letter": "B", "passed": True}


def test_eligible_when_required_lessons_done_and_grade_passes():
    d = decide(Rule(), PASS, {"l1", "l2"}, {"l1", "l2", "l3"})
    assert d.eligible and d.reasons == [] and d.missing_lessons == []


def test_missing_required_lesson_blocks_and_names_it():
    d = decide(Rule(), PASS, {"l1", "l2"}, {"l1"})
    assert not d.eligible
    assert d.missing_lessons == ["l2"]
    assert d.reasons == ["1 required lesson(s) not completed"]


def test_no_grade_or_failing_grade_blocks():
    assert decide(Rule(), None, set(), set()).reasons == ["no course grade yet"]
    failing = {"percent": 40.0, "letter": "F", "passed": False}
    assert decide(Rule(), failing, set(), set()).reasons == ["the course grade is not a pass"]


def test_course_rule_adds_minimum_percent_and_extra_lessons():
    rule = Rule(min_percent=90.0, required_lesson_ids=("quiz-optional",))
    d = decide(rule, PASS, {"l1"}, {"l1"})
    assert not d.eligible
    assert d.missing_lessons == ["quiz-optional"]
    assert "the course grade 82.0% is below the minimum 90.0%" in d.reasons
    assert decide(rule, {**PASS, "percent": 95.0}, {"l1"}, {"l1", "quiz-optional"}).eligible


def test_disabled_course_never_issues():
    assert not decide(Rule(enabled=False), PASS, set(), set()).eligible
