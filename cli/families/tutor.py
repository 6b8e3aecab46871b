"""`coursework tutor ...` and the tutor demo step.

`coursework tutor index COURSE_ID` (re)builds a course's retrieval passages in-process;
`coursework tutor ask COURSE_ID "question"` answers once in-process with the configured provider
(or the offline tutor when COURSEWORK_OPENAI_API_KEY is unset): handy to check retrieval and a
provider's settings. It stores nothing and charges no budget.
"""
from __future__ import annotations

import json
import secrets
import sys

DEMO_LESSONS = {
    "Variables and types": "A variable is a name bound to a value. Python infers the type of a value at run "
                           "time: int, float, str and bool are the basic types.\n\nUse type() to see a value's "
                           "type and int() or str() to convert between types.",
    "Loops": "A for loop repeats a block once per item of a sequence, such as a list or range(n). A while loop "
             "repeats as long as its condition stays true.\n\nbreak leaves a loop early and continue skips to "
             "the next iteration.",
    "Functions": "A function is defined with def, takes parameters and returns a value with return. A function "
                 "without a return statement returns None.\n\nDefault parameter values make arguments optional.",
}


def cmd_index(args) -> int:
    from celeryconfig import settings
    from domain.db import unit_of_work
    from domain.tutor import passages

    with unit_of_work(settings.database_url) as s:
        print(json.dumps(passages.index_course(s, args.course_id)))
    return 0


def cmd_ask(args) -> int:
    from celeryconfig import settings
    from domain.db import unit_of_work
    from domain.tutor import passages, prompt
    from domain.tutor.providers import Delta
    from domain.tutor.retrieval import BM25, Doc, relevant
    from tasks.tutor import provider_for

    with unit_of_work(settings.database_url) as s:
        passages.ensure_indexed(s, args.course_id)
        docs = [Doc(p.id, p.lesson_id, p.lesson_title, p.text) for p in passages.course_passages(s, args.course_id)]
    hits = relevant(BM25(docs).search(args.question, boost_lesson=args.lesson), args.question)
    if not hits:
        print(prompt.NOT_COVERED)
        return 0
    provider = provider_for(settings)(hits, args.question)
    for item in provider.stream(prompt.build("", hits, args.question, [], "explain", None)):
        if isinstance(item, Delta):
            sys.stdout.write(item.text)
            sys.stdout.flush()
    print("\n\nsources: " + "; ".join(f"[{c['n']}] {c['lesson_title']}" for c in prompt.citations(hits)))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("tutor", help="tutor: index a course, ask a question in-process")
    sub = p.add_subparsers(dest="tutor_command", required=True)
    i = sub.add_parser("index", help="(re)build the retrieval passages of a course")
    i.add_argument("course_id", help="the course whose material is indexed")
    i.set_defaults(fn=cmd_index)
    a = sub.add_parser("ask", help="answer one question from a course's content (nothing stored)")
    a.add_argument("course_id", help="the course the question is about")
    a.add_argument("question", help="the learner's question")
    a.add_argument("--lesson", default=None, help="prefer passages of this lesson")
    a.set_defaults(fn=cmd_ask)


def _follow(d, session_id: str) -> tuple[str, dict]:
    """Follow the session's latest reply the way a browser would: signed token, no API key."""
    import httpx

    from intake.client import parse_sse

    url = d.client.request("POST", f"/v1/tutor/sessions/{session_id}/stream-token")["stream_url"]
    text, final = "", {}
    with httpx.Client(base_url=str(d.client.http.base_url), timeout=60) as browser:
        with browser.stream("GET", url) as r:
            for data in parse_sse(r.iter_lines()):
                if "attempt" in data:
                    text = ""
                elif "text" in data:
                    text += data["text"]
                elif "status" in data or "code" in data:
                    final = data
                    break
    return text, final


def demo(d) -> bool:
    from domain.core.models import Course, Lesson, LessonType, Module, User
    from domain.db import unit_of_work

    tag = secrets.token_hex(3)
    with unit_of_work(d.db_url) as s:
        user = User(email=f"tutor-demo-{tag}@example.com", name="Ada")
        course = Course(slug=f"python-101-{tag}", title="Python 101")
        module = Module(course=course, title="Basics", position=1)
        s.add_all([user, course, module])
        for pos, (title, content) in enumerate(DEMO_LESSONS.items(), start=1):
            s.add(Lesson(module=module, title=title, position=pos, type=LessonType.article, content=content))
        s.flush()
        user_id, course_id = user.id, course.id
    session = d.client.request("POST", "/v1/tutor/sessions",
                               json={"user_id": user_id, "course_id": course_id, "topic": "loops"})["session"]
    ok = True
    for question in ("How do I leave a loop early?", "What is the boiling point of water?"):
        posted = d.client.request("POST", f"/v1/tutor/sessions/{session['id']}/messages", json={"content": question})
        text, final = _follow(d, session["id"])
        job = d.client.wait(posted["job"]["id"], timeout=60)
        cites = ", ".join(c["lesson_title"] for c in final.get("citations", [])) or "none"
        d.say(f"Q: {question}")
        d.say(f"A ({final.get('provider', '?')}, streamed {len(text)} chars): {text[:150].replace(chr(10), ' ')}")
        d.say(f"   cited: {cites}; job {job['state']}; tokens {final.get('prompt_tokens')}+{final.get('completion_tokens')}")
        ok = ok and job["state"] == "succeeded" and text == final.get("content")
    return ok
