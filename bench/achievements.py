"""Achievements backfill benchmark on PostgreSQL, against one hand-written SQL statement.

    .venv/bin/python bench/achievements.py [--events 1000000] [--users 20000]
    .venv/bin/python bench/achievements.py --events 10000000     # the larger run

Loads ``--events`` learning events (the rollup benchmark's generator and bulk load) into a fresh
database, then, for each badge below (rules over the events themselves: a streak badge reads the
rollups' precomputed streaks instead, so there is nothing to compare), times:
- the platform's backfill of the badge (what ``backfill_badge`` does: one set-based pass per
  rule, then the awards written in chunks of 1,000, each its own transaction), and
- one hand-written SQL statement computing the same set of learners,
checks that both sets are equal, and prints time(backfill) / time(SQL) (target: at most 1.5).
The awards are deleted between runs; both sides are warmed once, then run in alternating order;
each figure is the median of ``--runs`` runs.
Not a test: figures depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.rollup import Gen, load_history, load_users  # noqa: E402

BADGES = {
    "high_scorer": ({"type": "scores", "min_score": 90, "items": 5},
                    "SELECT user_id FROM learning_events WHERE type IN ('quiz_graded', 'assignment_graded', "
                    "'submission_evaluated') AND score >= 90 GROUP BY user_id HAVING count(*) >= 5"),
    "early_bird": ({"type": "events", "event": "lesson_completed", "at_least": 3, "local_hours": [4, 8]},
                   "SELECT e.user_id FROM learning_events e LEFT JOIN users u ON u.id = e.user_id "
                   "WHERE e.type = 'lesson_completed' AND extract(hour FROM e.occurred_at AT TIME ZONE "
                   "coalesce(u.timezone, 'UTC')) >= 4 AND extract(hour FROM e.occurred_at AT TIME ZONE "
                   "coalesce(u.timezone, 'UTC')) < 8 GROUP BY e.user_id HAVING count(*) >= 3"),
}


def backfill(url: str, badge_id: str) -> set[str]:
    """The task's body, without the job around it (``tasks.achievements.backfill``)."""
    from domain.achievements import awarding, evaluate, rules
    from domain.achievements.models import Badge
    from domain.db import unit_of_work

    with unit_of_work(url) as s:
        badge = s.get(Badge, badge_id)
        earned = evaluate.qualifying(s, rules.parse(badge.criteria), course_id=None, repeatable=False)
    users = sorted(earned)
    for i in range(0, len(users), awarding.CHUNK):
        with unit_of_work(url) as s:
            awarding.write(s, s.get(Badge, badge_id), {u: 1 for u in users[i:i + awarding.CHUNK]}, backfilled=True)
    return set(users)


def hand_written(dsn: str, sql: str) -> set[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute(sql)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import psycopg

    from tests.support.stack import Database

    db = Database(f"cw_bench_achievements_{os.getpid()}").create()
    os.environ["COURSEWORK_DATABASE_URL"] = db.url
    from domain.achievements import catalog
    from domain.db import unit_of_work

    try:
        print(f"achievements benchmark: {args.events:,} events, {args.users:,} learners, {args.days} days")
        load_users(db.dsn, args.users)
        load_history(db.dsn, Gen(args.users, 200, args.days), args.events)
        worst = 0.0
        for slug, (criteria, sql) in BADGES.items():
            with unit_of_work(db.url) as s:
                badge_id = catalog.create(s, {"slug": slug, "name": slug, "criteria": criteria}).id
            ours, theirs = [], []

            def run_ours() -> set[str]:
                with psycopg.connect(db.dsn, autocommit=True) as conn:
                    conn.execute("DELETE FROM achievement_awards")
                t0 = time.perf_counter()
                got = backfill(db.url, badge_id)
                ours.append(time.perf_counter() - t0)
                return got

            def run_theirs() -> set[str]:
                t0 = time.perf_counter()
                want = hand_written(db.dsn, sql)
                theirs.append(time.perf_counter() - t0)
                return want

            run_theirs(), run_ours()               # warm both (caches, the engine), untimed
            ours.clear(), theirs.clear()
            for i in range(args.runs):             # alternate which goes first
                first, second = (run_ours, run_theirs) if i % 2 == 0 else (run_theirs, run_ours)
                a, b = first(), second()
                got, want = (a, b) if first is run_ours else (b, a)
                assert got == want, f"{slug}: the backfill's learners differ from the SQL's ({len(got)} vs {len(want)})"
            ratio = statistics.median(ours) / statistics.median(theirs)
            worst = max(worst, ratio)
            print(f"  {slug:<18} {len(want):>7,} learners  backfill {statistics.median(ours):7.3f} s  "
                  f"SQL {statistics.median(theirs):7.3f} s  ratio {ratio:5.2f}  (sets equal)", flush=True)
        print(f"worst ratio {worst:.2f} (target <= 1.5)")
        return 0
    finally:
        db.drop()


if __name__ == "__main__":
    sys.exit(main())
