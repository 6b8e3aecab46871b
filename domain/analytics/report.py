"""Reports over a date range from the rollup tables: a CSV and a PNG chart in storage,
returned as presigned URLs. Keys are per job, so a rerun overwrites the same objects."""
from __future__ import annotations

import csv
import io

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.analytics.kinds import ReportPayload
from domain.analytics.models import CourseDay, LearnerDay, LearnerStats

URL_EXPIRES = 24 * 3600


def course_popularity(s: Session, p: ReportPayload) -> tuple[list[str], list[list]]:
    C = CourseDay
    q = (select(C.course_id, func.sum(C.enrollments), func.sum(C.active_learners), func.sum(C.lesson_completions),
                func.sum(C.quiz_count), func.sum(C.avg_quiz_score * C.quiz_count), func.sum(C.seconds_watched),
                func.sum(C.coupon_uses), func.sum(C.certificates))
         .where(C.day >= p.start, C.day <= p.end).group_by(C.course_id))
    if p.course_id:
        q = q.where(C.course_id == p.course_id)
    rows = []
    for cid, enr, act, comp, qn, qsum, secs, coupons, certs in s.execute(q):
        avg = round(float(qsum) / qn, 2) if qn else ""
        rows.append([cid, int(enr), int(act), int(comp), avg, round(int(secs) / 60, 1), int(coupons), int(certs)])
    rows.sort(key=lambda r: (-r[2], -r[1], r[0]))
    return (["course_id", "enrollments", "active_learner_days", "lesson_completions", "avg_quiz_score",
             "minutes_watched", "coupon_uses", "certificates"], rows)


def learner_progress(s: Session, p: ReportPayload) -> tuple[list[str], list[list]]:
    L = LearnerDay
    q = (select(L.user_id, func.count(), func.sum(L.lessons_completed), func.sum(L.seconds_watched),
                LearnerStats.current_streak, LearnerStats.longest_streak)
         .join(LearnerStats, LearnerStats.user_id == L.user_id, isouter=True)
         .where(L.local_day >= p.start, L.local_day <= p.end)
         .group_by(L.user_id, LearnerStats.current_streak, LearnerStats.longest_streak))
    rows = [[uid, int(days), int(lessons), round(int(secs) / 60, 1), cur or 0, longest or 0]
            for uid, days, lessons, secs, cur, longest in s.execute(q)]
    rows.sort(key=lambda r: (-r[3], -r[2], r[0]))
    return ["user_id", "active_days", "lessons_completed", "minutes_watched", "streak_at_last_activity",
            "longest_streak"], rows


REPORTS = {"course_popularity": (course_popularity, 2, "active learner-days"),
           "learner_progress": (learner_progress, 3, "minutes watched")}


def to_csv(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def chart(title: str, labels: list[str], values: list[float], ylabel: str) -> bytes:
    import matplotlib    # imported on first use: workers of every queue import this module

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    try:
        ax.bar(range(len(values)), values, color="#3b6ea8")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if not values:
            ax.text(0.5, 0.5, "no activity in this range", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def build(s: Session, p: ReportPayload) -> tuple[bytes, bytes, int]:
    fn, col, ylabel = REPORTS[p.report]
    header, rows = fn(s, p)
    top = rows[:p.top]
    title = f"{p.report.replace('_', ' ')} {p.start.isoformat()} – {p.end.isoformat()}"
    png = chart(title, [str(r[0])[:12] for r in top], [float(r[col]) for r in top], ylabel)
    return to_csv(header, rows), png, len(rows)


def write(storage, job_id: str, s: Session, p: ReportPayload) -> dict:
    csv_bytes, png, n = build(s, p)
    base = f"reports/{p.report}/{job_id}"
    storage.put_bytes(f"{base}/report.csv", csv_bytes, content_type="text/csv", cache_control="private, no-cache")
    storage.put_bytes(f"{base}/chart.png", png, content_type="image/png", cache_control="private, no-cache")
    return {"report": p.report, "start": p.start.isoformat(), "end": p.end.isoformat(), "rows": n,
            "csv_key": f"{base}/report.csv", "chart_key": f"{base}/chart.png",
            "csv_url": storage.presigned_get(f"{base}/report.csv", URL_EXPIRES),
            "chart_url": storage.presigned_get(f"{base}/chart.png", URL_EXPIRES), "url_expires_in": URL_EXPIRES}
