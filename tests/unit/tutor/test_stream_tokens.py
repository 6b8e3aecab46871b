import pytest

from domain.tutor import stream_tokens as st

SECRET = "s3cret"


def test_a_fresh_token_opens_its_own_session():
    token, expires = st.mint(SECRET, "sess1", ttl=60, now=1000)
    assert expires == 1060
    st.verify(SECRET, token, "sess1", now=1059)


@pytest.mark.parametrize("session_id, now, secret, code", [
    ("sess2", 1001, SECRET, "token_mismatch"),
    ("sess1", 1060, SECRET, "token_expired"),
    ("sess1", 1001, "other-secret", "invalid_token"),
])
def test_refused_tokens(session_id, now, secret, code):
    token, _ = st.mint(SECRET, "sess1", ttl=60, now=1000)
    with pytest.raises(st.TokenError) as err:
        st.verify(secret, token, session_id, now=now)
    assert err.value.code == code


def test_a_tampered_token_is_refused():
    token, _ = st.mint(SECRET, "sess1", ttl=60, now=1000)
    forged_body, _ = st.mint(SECRET, "sess1", ttl=10_000, now=1000)
    forged = forged_body.split(".")[0] + "." + token.split(".")[1]
    for bad in (forged, "garbage", token + "x", ""):
        with pytest.raises(st.TokenError) as err:
            st.verify(SECRET, bad, "sess1", now=1001)
        assert err.value.code == "invalid_token"
