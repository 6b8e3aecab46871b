"""Split lesson content into passages and keep a course's passage index up to date."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from domain.core.models import Course, Lesson, Module
from domain.db import utcnow
from domain.tutor.models import TutorCourseIndex, TutorPassage
from domain.tutor.retrieval import BM25, Doc

TARGET_WORDS = 120      # a passage is about a paragraph or two
MAX_WORDS = 200


def split(text: str, target: int = TARGET_WORDS, maximum: int = MAX_WORDS) -> list[str]:
    """Paragraphs merged up to ``target`` words; a paragraph longer than ``maximum`` is cut by sentence."""
    pieces: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        para = " ".join(para.split())
        if not para:
            continue
        if len(para.split()) <= maximum:
            pieces.append(para)
            continue
        chunk: list[str] = []
        for sentence in re.split(r"(?<=[.!?])\s+", para):
            if chunk and len(" ".join(chunk).split()) + len(sentence.split()) > target:
                pieces.append(" ".join(chunk))
                chunk = []
            chunk.append(sentence)
        if chunk:
            pieces.append(" ".join(chunk))
    merged: list[str] = []
    for piece in pieces:
        if merged and len(merged[-1].split()) + len(piece.split()) <= target:
            merged[-1] = f"{merged[-1]}\n\n{piece}"
        else:
            merged.append(piece)
    return merged


def content_hash(title: str, content: str) -> str:
    return hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()


def index_course(session: Session, course_id: str) -> dict:
    """(Re)build the passages of every lesson of a course whose content changed. Safe to run twice."""
    lessons = list(session.scalars(select(Lesson).join(Module).where(Module.course_id == course_id)
                                   .order_by(Module.position, Lesson.position)))
    existing = {lid: h for lid, h in session.execute(
        select(TutorPassage.lesson_id, TutorPassage.content_hash).where(TutorPassage.course_id == course_id))}
    changed = 0
    for lesson in lessons:
        digest = content_hash(lesson.title, lesson.content or "")
        if existing.get(lesson.id) == digest:
            continue
        changed += 1
        session.execute(delete(TutorPassage).where(TutorPassage.lesson_id == lesson.id))
        for pos, text in enumerate(split(f"{lesson.title}\n\n{lesson.content or ''}")):
            session.add(TutorPassage(course_id=course_id, lesson_id=lesson.id, lesson_title=lesson.title,
                                     position=pos, text=text, content_hash=digest))
    gone = set(existing) - {lesson.id for lesson in lessons}
    if gone:
        session.execute(delete(TutorPassage).where(TutorPassage.lesson_id.in_(gone)))
    session.flush()
    count = len(list(session.scalars(select(TutorPassage.id).where(TutorPassage.course_id == course_id))))
    state = session.get(TutorCourseIndex, course_id)
    if state is None:
        state = TutorCourseIndex(course_id=course_id)
        session.add(state)
    state.passage_count, state.lesson_count, state.indexed_at = count, len(lessons), utcnow()
    return {"course_id": course_id, "lessons": len(lessons), "lessons_reindexed": changed,
            "lessons_removed": len(gone), "passages": count}


def ensure_indexed(session: Session, course_id: str) -> None:
    """Index a course never indexed. Concurrent first replies queue on the course row's lock."""
    if session.get(TutorCourseIndex, course_id) is not None:
        return
    session.get(Course, course_id, with_for_update=True)
    if session.scalar(select(TutorCourseIndex.course_id).where(TutorCourseIndex.course_id == course_id)) is None:
        index_course(session, course_id)


_indexes: dict[str, tuple[object, BM25]] = {}


def cached_index(course_id: str, indexed_at: datetime | None) -> BM25 | None:
    """The index this process holds for the course as indexed at ``indexed_at``, if any (no query)."""
    cached = _indexes.get(course_id)
    if indexed_at is not None and cached is not None and cached[0] == indexed_at:
        return cached[1]
    return None


def course_index(session: Session, course_id: str, indexed_at: datetime | None = None) -> BM25:
    """The course's BM25 index, built once per process and rebuilt when the course is re-indexed.
    ``indexed_at``: the course's index time if the caller has read it already (no query then)."""
    if (index := cached_index(course_id, indexed_at)) is not None:
        return index
    cached = _indexes.get(course_id)
    state = session.get(TutorCourseIndex, course_id)
    if state is None:
        ensure_indexed(session, course_id)
        state = session.get(TutorCourseIndex, course_id)
    stamp = state.indexed_at
    if cached is not None and cached[0] == stamp:
        return cached[1]
    docs = [Doc(p.id, p.lesson_id, p.lesson_title, p.text) for p in course_passages(session, course_id)]
    index = BM25(docs)
    if len(_indexes) > 256:
        _indexes.clear()
    _indexes[course_id] = (stamp, index)
    return index


def course_passages(session: Session, course_id: str) -> list[TutorPassage]:
    return list(session.scalars(select(TutorPassage).where(TutorPassage.course_id == course_id)
                                .order_by(TutorPassage.lesson_id, TutorPassage.position)))
