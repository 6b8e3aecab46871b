from domain.tutor import passages
from domain.tutor.retrieval import BM25, Doc, relevant, terms
from tests.unit.tutor.course_fixture import LESSONS, NOT_COVERED, QUESTIONS


def _index() -> BM25:
    docs = []
    for key, (title, content) in LESSONS.items():
        for pos, text in enumerate(passages.split(f"{title}\n\n{content}")):
            docs.append(Doc(f"{key}-{pos}", key, title, text))
    return BM25(docs)


def test_each_question_cites_the_lesson_that_answers_it():
    index = _index()
    wrong = []
    for question, lesson in QUESTIONS:
        hits = relevant(index.search(question, k=4), question)
        if not hits or hits[0].doc.lesson_id != lesson:
            wrong.append((question, lesson, [(h.doc.lesson_id, round(h.score, 2)) for h in hits]))
    assert len(QUESTIONS) >= 10
    assert wrong == []


def test_questions_outside_the_course_are_not_covered():
    index = _index()
    for question in NOT_COVERED:
        assert relevant(index.search(question), question) == [], question


def test_lesson_boost_breaks_ties_towards_the_session_lesson():
    docs = [Doc("a", "l1", "A", "joins combine tables"), Doc("b", "l2", "B", "joins combine tables")]
    assert BM25(docs).search("joins", boost_lesson="l2")[0].doc.lesson_id == "l2"


def test_terms_drop_stopwords_and_stem_plurals():
    assert terms("What are the Indexes of tables?") == ["index", "tabl"]


def test_split_keeps_paragraphs_and_cuts_long_ones():
    long_para = " ".join(f"Sentence number {i} is here." for i in range(100))
    pieces = passages.split(f"Short intro.\n\n{long_para}")
    assert pieces[0].startswith("Short intro.")
    assert all(len(p.split()) <= passages.MAX_WORDS for p in pieces)
    assert " ".join(pieces).count("Sentence number") == 100
