import pytest

from domain.jobs import states
from domain.jobs.enqueueing import request_hash
from domain.jobs.keys import hash_key


@pytest.mark.parametrize("current,target", [
    ("queued", "running"), ("running", "succeeded"), ("running", "retrying"), ("retrying", "running"),
    ("running", "failed"), ("running", "dead_lettered"), ("queued", "cancelled"), ("running", "cancelled"),
    ("failed", "queued"), ("dead_lettered", "queued"),
])
def test_legal_transitions(current, target):
    states.check(current, target)


@pytest.mark.parametrize("current,target", [
    ("succeeded", "running"), ("succeeded", "queued"), ("cancelled", "queued"), ("queued", "succeeded"),
    ("retrying", "succeeded"), ("failed", "running"),
])
def test_illegal_transitions_are_refused(current, target):
    with pytest.raises(states.IllegalTransition):
        states.check(current, target)


def test_terminal_states_have_no_way_forward_but_operator_requeue():
    for state in states.TERMINAL:
        assert states.TRANSITIONS[state] <= {"queued"}


def test_request_hash_is_order_independent_and_body_sensitive():
    assert request_hash("ping", {"a": 1, "b": 2}) == request_hash("ping", {"b": 2, "a": 1})
    assert request_hash("ping", {"a": 1}) != request_hash("ping", {"a": 2})
    assert request_hash("ping", {"a": 1}) != request_hash("other", {"a": 1})


def test_api_keys_are_stored_as_hashes():
    assert hash_key("cw_x") != "cw_x" and len(hash_key("cw_x")) == 64
