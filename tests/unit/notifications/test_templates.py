import pytest

from domain.notifications import render, types
from domain.notifications.render import TEMPLATE_DIR


@pytest.mark.parametrize("name", sorted(types.TYPES))
def test_every_type_has_text_and_html_templates_that_greet_the_learner(name):
    assert (TEMPLATE_DIR / f"{name}.txt").is_file() and (TEMPLATE_DIR / f"{name}.html").is_file()
    out = render.render(name, user={"name": "Ada"}, data={"items": [{"title": "x", "link": None}]},
                        link="https://cw.test/l", unsubscribe_url="https://cw.test/u")
    assert out.text.startswith("Hi Ada,") and "<p>Hi Ada,</p>" in out.html
    assert "https://cw.test/l" in out.text and 'href="https://cw.test/u"' in out.html
    assert out.subject and "\n" not in out.subject


def test_html_is_escaped_and_text_is_not():
    out = render.render("direct_message", user={"name": "Bo <b>"}, data={"sender_name": "Eve", "body": "<script>x"})
    assert "&lt;script&gt;x" in out.html and "<script>" not in out.html
    assert "<script>x" in out.text and out.subject == "New message from Eve"


def test_subject_uses_the_data_and_the_title_overrides_it():
    assert render.subject("quiz_graded", {"score_pct": 91}) == "Your quiz was graded: 91%"
    assert render.render("quiz_graded", user={"name": "A"}, data={}, title="Custom").subject == "Custom"


def test_urgent_types_exist_and_every_priority_is_known():
    assert {t.priority for t in types.TYPES.values()} <= set(types.PRIORITIES)
    assert any(t.priority == types.URGENT for t in types.TYPES.values())
    with pytest.raises(KeyError):
        types.get("nope")
