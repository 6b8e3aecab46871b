"""One purpose, one key, with rotation: nothing signed with the default secret, or for another
purpose, verifies against a configured secret; the previous secret verifies until its date."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from domain.core import purpose_keys
from domain.notifications import unsubscribe
from domain.storage import LocalStorage
from domain.tutor import stream_tokens

DEFAULT = "dev-only-change-me"
SECRET = "a-configured-secret-of-forty-bytes-long!"
OLD = "the-previous-secret-of-forty-bytes-long!!"


def test_each_purpose_has_its_own_key_and_none_is_the_secret():
    keys = {p: purpose_keys.derive(SECRET, p) for p in purpose_keys.PURPOSES}
    assert len(set(keys.values())) == len(keys)
    assert SECRET.encode() not in keys.values()
    with pytest.raises(ValueError):
        purpose_keys.derive(SECRET, "certificates")


def test_values_forged_with_the_default_secret_are_refused():
    stream = purpose_keys.ring("tutor-stream", SECRET)
    forged, _ = stream_tokens.mint(DEFAULT, "session1", ttl=60)
    with pytest.raises(stream_tokens.TokenError):
        stream_tokens.verify(stream, forged, "session1")
    token, _ = stream_tokens.mint(stream, "session1", ttl=60)
    stream_tokens.verify(stream, token, "session1")

    unsub = purpose_keys.ring("unsubscribe", SECRET)
    assert unsubscribe.read_token(unsub, unsubscribe.make_token(DEFAULT, "u1", "all")) is None
    assert unsubscribe.read_token(unsub, unsubscribe.make_token(unsub, "u1", "all")) == ("u1", "all")


def test_a_token_of_one_purpose_never_verifies_for_another():
    # same message shape: a stream key must not sign an unsubscribe link and the other way round
    unsub = purpose_keys.ring("unsubscribe", SECRET)
    stream = purpose_keys.ring("tutor-stream", SECRET)
    assert unsubscribe.read_token(unsub, unsubscribe.make_token(stream, "u1", "all")) is None
    token, _ = stream_tokens.mint(unsub, "s1", ttl=60)
    with pytest.raises(stream_tokens.TokenError):
        stream_tokens.verify(stream, token, "s1")


def test_the_previous_secret_verifies_until_its_date_and_never_signs():
    now = datetime.now(timezone.utc)
    old_ring = purpose_keys.ring("unsubscribe", OLD)
    old_token = unsubscribe.make_token(old_ring, "u1", "all")
    rotated = purpose_keys.ring("unsubscribe", SECRET, previous=OLD, previous_until=now + timedelta(days=1))
    assert unsubscribe.read_token(rotated, old_token) == ("u1", "all")
    assert rotated.current == purpose_keys.derive(SECRET, "unsubscribe")
    expired = purpose_keys.ring("unsubscribe", SECRET, previous=OLD, previous_until=now - timedelta(seconds=1))
    assert unsubscribe.read_token(expired, old_token) is None
    no_date = purpose_keys.ring("unsubscribe", SECRET, previous=OLD)
    assert unsubscribe.read_token(no_date, old_token) is None


def test_upload_signatures_cover_size_and_content_type(tmp_path):
    store = LocalStorage(tmp_path, secret=purpose_keys.ring("files", SECRET))
    exp = int(time.time()) + 60
    sig = store.sign("PUT", "videos/a/source", exp, 1000, "video/mp4")
    assert store.verify("PUT", "videos/a/source", exp, sig, 1000, "video/mp4")
    assert not store.verify("PUT", "videos/a/source", exp, sig, 10**9, "video/mp4")
    assert not store.verify("PUT", "videos/a/source", exp, sig, 1000, "text/html")
    assert not store.verify("PUT", "videos/a/source", exp, sig, None, None)
    assert not store.verify("GET", "videos/a/source", exp, sig, 1000, "video/mp4")
    forged = LocalStorage(tmp_path, secret=DEFAULT).sign("GET", "videos/a/source", exp)
    assert not store.verify("GET", "videos/a/source", exp, forged)
