"""The default badge set (skillEd's badge types), built with the rule language; seeded by
``coursework achievements seed``."""
from __future__ import annotations

DEFAULTS: list[dict] = [
    {"slug": "first_course", "name": "First course", "description": "Passed a first course.",
     "criteria": {"type": "courses_passed", "at_least": 1}},
    {"slug": "seven_day_streak", "name": "Seven-day streak", "description": "Learned on 7 days in a row.",
     "criteria": {"type": "streak", "days": 7}},
    {"slug": "high_scorer", "name": "High scorer", "description": "Scored 90 or more on 5 graded items.",
     "criteria": {"type": "scores", "min_score": 90, "items": 5}},
    {"slug": "early_bird", "name": "Early bird",
     "description": "Completed 3 lessons before 8 in the morning, in your own time zone.",
     "criteria": {"type": "events", "event": "lesson_completed", "at_least": 3, "local_hours": [4, 8]}},
    {"slug": "perfect_score", "name": "Perfect score", "description": "Scored 100 on a graded item.",
     "repeatable": True, "criteria": {"type": "scores", "min_score": 100, "items": 1}},
    {"slug": "course_completer", "name": "Course completer", "description": "Passed 3 courses.",
     "criteria": {"type": "courses_passed", "at_least": 3}},
    {"slug": "streak_master", "name": "Streak master", "description": "Learned on 30 days in a row.",
     "criteria": {"type": "streak", "days": 30}},
    {"slug": "social_learner", "name": "Social learner", "description": "Completed 5 peer reviews.",
     "criteria": {"type": "peer_reviews", "at_least": 5}},
]
