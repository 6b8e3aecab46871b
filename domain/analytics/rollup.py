"""Incremental rollups from a stored watermark.

A run reads the events ingested since the watermark (``seq`` order, so a late event — one
whose ``occurred_at`` is days old — is still seen), finds the keys they touch ((course, day),
(learner, local day), (topic, learner), days) and recomputes exactly those keys from the raw
events with the same SQL a full recompute uses. Rerunning over the same events therefore
writes the same rows. Learner streaks are folded forward when the new days come after the
learner's last active day, and recomputed from the learner's days otherwise.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Callable, ContextManager, Iterable

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.analytics import aggregates, keys, streaks
from domain.analytics.ingest import INGEST_LOCK
from domain.analytics.models import (CourseDay, CoursePopularity, LearnerDay, LearnerStats, LearningEvent,
                                     PlatformDay, RollupState, TopicScore)
from domain.db import session_factory, utcnow

E = LearningEvent.__table__
CHUNK = 500
STATE = "rollup"
WORK_MEM = "256MB"


UnitOfWork = Callable[[], ContextManager[Session]]


def safe_high_seq(uow: UnitOfWork) -> int:
    """The highest ``seq`` below which every insert has committed (PostgreSQL hands out
    sequence numbers before commit; the exclusive lock waits out in-flight batches)."""
    with uow() as s:
        if s.bind.dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK})
        return s.scalar(select(func.coalesce(func.max(E.c.seq), 0)))


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _lock_state(s: Session, skip_locked: bool) -> RollupState | None:
    """The watermark row, locked: rollups run one at a time. None when busy (skip_locked)."""
    q = select(RollupState).where(RollupState.name == STATE)
    state = s.scalar(q.with_for_update(skip_locked=skip_locked))
    if state is None:
        if s.scalar(select(RollupState.name).where(RollupState.name == STATE)) is not None:
            return None
        try:
            with s.begin_nested():
                s.add(RollupState(name=STATE, last_seq=0))
        except IntegrityError:   # another first run created it
            pass
        state = s.scalar(q.with_for_update(skip_locked=skip_locked))
    return state


def run(uow: UnitOfWork, *, full: bool = False, trending_days: int = 7, skip_if_busy: bool = False) -> dict:
    """One rollup run, in units of work from ``uow``. ``full=True`` rebuilds every table from all events."""
    high = safe_high_seq(uow)
    with uow() as s:
        state = _lock_state(s, skip_if_busy)
        if state is None:
            return {"skipped": "another rollup is running"}
        low = 0 if full else state.last_seq
        if high <= low and not full:
            return {"mode": "incremental", "from_seq": low, "to_seq": low, "events": 0}
        if s.bind.dialect.name == "postgresql":   # one rollup at a time: it can sort and hash in memory
            s.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        if full:
            counts = _full(s)
        else:
            counts = _incremental(s, low, high)
        counts["popular_courses"] = refresh_popularity(s, trending_days)
        state.last_seq = max(high, state.last_seq)
        state.updated_at = utcnow()
        return {"mode": "full" if full else "incremental", "from_seq": low, "to_seq": high, **counts}


# ----------------------------------------------------------------------------- full

def _full(s: Session) -> dict:
    models = (CourseDay, LearnerDay, LearnerStats, TopicScore, PlatformDay)
    if s.bind.dialect.name == "postgresql":
        # TRUNCATE, not DELETE: no dead rows to write and vacuum. Readers of these tables wait
        # for this transaction instead of seeing the old rows (a full rebuild is an operator's repair)
        s.execute(text(f"TRUNCATE {', '.join(m.__tablename__ for m in models)}"))
    else:
        for model in models:
            s.execute(delete(model))
    sel = aggregates.course_day()
    s.execute(insert(CourseDay).from_select(list(sel.selected_columns.keys()), sel))
    sel = aggregates.learner_day()
    s.execute(insert(LearnerDay).from_select(list(sel.selected_columns.keys()), sel))
    sel = aggregates.topic_score()
    s.execute(insert(TopicScore).from_select(list(sel.selected_columns.keys()), sel))
    learners = _recompute_learners(s, None)
    days = _recompute_platform(s, None)
    return {"events": s.scalar(select(func.count()).select_from(E)), "learners": learners, "platform_days": days,
            "course_days": s.scalar(select(func.count()).select_from(CourseDay))}


# ----------------------------------------------------------------------------- incremental

def _incremental(s: Session, low: int, high: int) -> dict:
    if s.bind.dialect.name == "postgresql":
        # index lookups per key are cheap on SSDs; with the default (4.0, spinning disks) the
        # planner hash-joins a full scan of the events instead
        s.execute(text("SET LOCAL random_page_cost = 1.1"))
        s.execute(text("SET LOCAL jit = off"))   # short index lookups: compiling them costs more than it saves
    n_events = s.scalar(select(func.count()).select_from(E).where(E.c.seq > low, E.c.seq <= high))
    keys.fill(s, low, high)
    C, T = CourseDay.__table__, TopicScore.__table__

    sel = aggregates.course_day(keys.COURSE)
    keys.delete_matching(s, C, keys.COURSE)
    s.execute(insert(CourseDay).from_select(list(sel.selected_columns.keys()), sel))

    sel = aggregates.topic_score(keys.TOPIC)
    keys.delete_matching(s, T, keys.TOPIC)
    s.execute(insert(TopicScore).from_select(list(sel.selected_columns.keys()), sel))

    learners = _learners_incremental(s)
    days = sorted(set(s.scalars(select(keys.COURSE.c.day).distinct()))
                  | set(s.scalars(select(keys.LEARNER.c.local_day).distinct())))
    platform = _recompute_platform(s, days)
    count = lambda t: s.scalar(select(func.count()).select_from(t))  # noqa: E731
    return {"events": n_events, "course_days": count(keys.COURSE), "learner_days": count(keys.LEARNER),
            "topic_learners": count(keys.TOPIC), "learners": learners, "platform_days": platform}


def _learners_incremental(s: Session) -> int:
    L, K = LearnerDay.__table__, keys.LEARNER
    sel = aggregates.learner_day(K)

    cols = (L.c.user_id, L.c.local_day, L.c.lessons_completed, L.c.seconds_watched)
    # the rows before and after, read by the DELETE and the INSERT themselves (RETURNING)
    old = {(u, d): (les, sec) for u, d, les, sec in keys.delete_matching(s, L, K, returning=cols)}
    fresh = {(u, d): (les, sec) for u, d, les, sec in s.execute(
        insert(LearnerDay).from_select(list(sel.selected_columns.keys()), sel).returning(*cols))}
    per_user: dict[str, dict] = defaultdict(lambda: {"new_days": [], "lessons": 0, "seconds": 0})
    for key, (lessons, seconds) in fresh.items():
        was = old.get(key)
        u = per_user[key[0]]
        if was is None:
            u["new_days"].append(key[1])
            was = (0, 0)
        u["lessons"] += lessons - was[0]
        u["seconds"] += seconds - was[1]
    users = sorted(per_user)
    S = LearnerStats.__table__
    stats = {r[0]: r for r in s.execute(   # the learners of the key table, in one query
        select(S.c.user_id, S.c.first_active_day, S.c.last_active_day, S.c.current_streak, S.c.longest_streak,
               S.c.active_days, S.c.lessons_completed, S.c.seconds_watched)
        .where(S.c.user_id.in_(select(K.c.user_id).distinct())))}
    recompute, updates = [], []
    for uid in users:
        st, u = stats.get(uid), per_user[uid]
        if st is None or any(d <= st[2] for d in u["new_days"]):
            recompute.append(uid)      # a new learner, or a late day before the last one: from all days
            continue
        folded = streaks.extend(streaks.Streak(*st[1:6]), u["new_days"])
        updates.append({"user_id": uid, **folded.__dict__, "lessons_completed": st[6] + u["lessons"],
                        "seconds_watched": st[7] + u["seconds"]})
    if updates and s.bind.dialect.name == "postgresql":
        _update_stats_pg(s, updates)
    elif updates:
        s.execute(update(LearnerStats), updates)     # bulk UPDATE by primary key
    _recompute_learners(s, recompute)
    return len(users)


def _update_stats_pg(s: Session, rows: list[dict]) -> None:
    """The folded learner stats, COPY'd into a temp table and applied by one UPDATE ... FROM
    (tens of thousands of single-row UPDATEs would be the slowest part of a run)."""
    cols = [c.name for c in LearnerStats.__table__.c]
    s.execute(text("CREATE TEMP TABLE IF NOT EXISTS tmp_rollup_stats "
                   "(LIKE analytics_learner_stats) ON COMMIT DROP"))
    raw = s.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY tmp_rollup_stats ({', '.join(cols)}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row([r[c] for c in cols])
    sets = ", ".join(f"{c} = t.{c}" for c in cols if c != "user_id")
    s.execute(text(f"UPDATE analytics_learner_stats AS s SET {sets} FROM tmp_rollup_stats AS t "
                   "WHERE s.user_id = t.user_id"))


def _recompute_learners(s: Session, user_ids: list[str] | None) -> int:
    """Learner stats from their learner-day rows (all learners when ``user_ids`` is None)."""
    L = LearnerDay.__table__
    if user_ids is None and s.bind.dialect.name == "postgresql":   # the full path: one set-based INSERT
        sel = aggregates.learner_stats()
        s.execute(insert(LearnerStats).from_select(list(sel.selected_columns.keys()), sel))
        # the table was emptied first: what it holds now is what was written (an INSERT ... SELECT's
        # rowcount is -1 through this driver)
        return s.scalar(select(func.count()).select_from(LearnerStats))
    batches = [None] if user_ids is None else list(_chunks(user_ids))
    done = 0
    for chunk in batches:
        q = select(L.c.user_id, L.c.local_day, L.c.lessons_completed, L.c.seconds_watched)
        if chunk is not None:
            if not chunk:
                continue
            s.execute(delete(LearnerStats).where(LearnerStats.user_id.in_(chunk)))
            q = q.where(L.c.user_id.in_(chunk))
        rows: list[dict] = []
        current, days, lessons, seconds = None, [], 0, 0

        def flush_user():
            st = streaks.from_days(days)
            rows.append({"user_id": current, **st.__dict__, "lessons_completed": lessons, "seconds_watched": seconds})

        for uid, day, les, sec in s.execute(q.order_by(L.c.user_id, L.c.local_day)).yield_per(10_000):
            if uid != current:
                if current is not None:
                    flush_user()
                current, days, lessons, seconds = uid, [], 0, 0
            days.append(day)
            lessons += les
            seconds += sec
            if len(rows) >= 5000:
                s.execute(insert(LearnerStats), rows)
                done += len(rows)
                rows = []
        if current is not None:
            flush_user()
        if rows:
            s.execute(insert(LearnerStats), rows)
            done += len(rows)
    return done


def _recompute_platform(s: Session, days: list[date] | None) -> int:
    C, L, P = CourseDay.__table__, LearnerDay.__table__, PlatformDay.__table__
    merged: dict[date, dict] = {}
    batches = [None] if days is None else list(_chunks(days))
    for chunk in batches:
        cq, lq = aggregates.platform_from_courses(), aggregates.platform_active_learners()
        if chunk is not None:
            cq, lq = cq.where(C.c.day.in_(chunk)), lq.where(L.c.local_day.in_(chunk))
            s.execute(delete(PlatformDay).where(P.c.day.in_(chunk)))
        for r in s.execute(cq).mappings():
            merged[r["day"]] = {**dict(r), "active_learners": 0}
        for day, n in s.execute(lq):
            row = merged.setdefault(day, {"day": day, "enrollments": 0, "lesson_completions": 0, "seconds_watched": 0,
                                          "coupon_uses": 0, "certificates": 0, "course_learner_days": 0})
            row["active_learners"] = n
    if merged:
        s.execute(insert(PlatformDay), [{k: (int(v) if k != "day" else v) for k, v in r.items()}
                                        for r in merged.values()])
    return len(merged)


def refresh_popularity(s: Session, window_days: int) -> int:
    """Trending: the last ``window_days`` of data (anchored at the newest day, so a rerun over
    the same events gives the same ranking) against the window before it."""
    C = CourseDay.__table__
    s.execute(delete(CoursePopularity))
    anchor = s.scalar(select(func.max(C.c.day)))
    if anchor is None:
        return 0
    start, prev_start = anchor - timedelta(days=window_days - 1), anchor - timedelta(days=2 * window_days - 1)
    cur = {r.course_id: (int(r.e), int(r.a)) for r in s.execute(
        select(C.c.course_id, func.sum(C.c.enrollments).label("e"), func.sum(C.c.active_learners).label("a"))
        .where(C.c.day >= start, C.c.day <= anchor).group_by(C.c.course_id))}
    prev = {r.course_id: int(r.a) for r in s.execute(
        select(C.c.course_id, func.sum(C.c.active_learners).label("a"))
        .where(C.c.day >= prev_start, C.c.day < start).group_by(C.c.course_id))}
    rows = []
    for cid, (enr, act) in cur.items():
        before = prev.get(cid, 0)
        rows.append({"course_id": cid, "window_end": anchor, "enrollments": enr, "active_learner_days": act,
                     "previous_active_learner_days": before, "score": float(act + 3 * enr),
                     "trend": round((act - before) / max(before, 1), 4)})
    rows.sort(key=lambda r: (-r["score"], r["course_id"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    if rows:
        s.execute(insert(CoursePopularity), rows)
    return len(rows)


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every rollup table's rows, sorted (tests and the benchmark compare runs with it)."""
    out = {}
    with session_factory(url)() as s:
        for model in (CourseDay, LearnerDay, LearnerStats, TopicScore, PlatformDay, CoursePopularity):
            table = model.__table__
            rows = s.execute(select(table)).all()
            out[table.name] = sorted(tuple(r) for r in rows)
    return out
