"""The local-storage file route with a configured secret: forged URLs are refused, an upload
streams to disk and stops at its declared size (413), and keys outside the root are 404."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from domain.core import purpose_keys
from domain.notifications import unsubscribe
from domain.storage import LocalStorage
from domain.tutor import stream_tokens

SECRET = "a-configured-secret-of-forty-bytes-long!"
DEFAULT = "dev-only-change-me"


@pytest.fixture(scope="module")
def files(stack, tmp_path_factory):
    root = tmp_path_factory.mktemp("storage")
    shared = stack.intake_url
    url = stack.start_intake(COURSEWORK_STORAGE_URL=f"local://{root}", COURSEWORK_SIGNING_SECRET=SECRET)
    stack.intake_url = shared      # other modules keep talking to the shared intake
    store = LocalStorage(root, base_url=url, secret=purpose_keys.ring("files", SECRET))
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client, store, root


def path_of(signed: str) -> str:
    parts = urlsplit(signed)
    return f"{parts.path}?{parts.query}"


def test_a_put_of_the_declared_size_and_type_is_stored(files):
    client, store, root = files
    url = store.presigned_put("videos/a/source", "video/mp4", size=1000)
    assert client.put(path_of(url), content=b"x" * 1000, headers={"content-type": "video/mp4"}).status_code == 200
    assert (root / "videos/a/source").read_bytes() == b"x" * 1000
    got = client.get(path_of(store.presigned_get("videos/a/source")))
    assert got.status_code == 200 and got.content == b"x" * 1000
    assert got.headers["x-content-type-options"] == "nosniff"


def test_more_than_declared_is_413_and_nothing_is_kept(files):
    client, store, root = files
    url = path_of(store.presigned_put("videos/b/source", "video/mp4", size=1000))
    r = client.put(url, content=b"x" * 5_000_000, headers={"content-type": "video/mp4"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks():      # no Content-Length: the stream itself must be cut at the declared size
        for _ in range(200):
            yield b"y" * 10_000

    r = client.put(url, content=chunks(), headers={"content-type": "video/mp4"})
    assert r.status_code == 413
    assert not (root / "videos/b/source").exists()
    assert not list((root / "videos/b").glob("*.part")) if (root / "videos/b").exists() else True


def test_fewer_bytes_than_declared_are_refused(files):
    client, store, root = files
    url = path_of(store.presigned_put("videos/c/source", "video/mp4", size=1000))
    assert client.put(url, content=b"x" * 10, headers={"content-type": "video/mp4"}).status_code == 400
    assert not (root / "videos/c/source").exists()


def test_the_signature_binds_size_and_content_type(files):
    client, store, _root = files
    url = store.presigned_put("videos/d/source", "video/mp4", size=1000)
    assert client.put(path_of(url), content=b"<html>" * 10, headers={"content-type": "text/html"}).status_code == 403
    q = parse_qs(urlsplit(url).query)
    bigger = f"/v1/files/videos/d/source?expires={q['expires'][0]}&size=99999999&signature={q['signature'][0]}"
    assert client.put(bigger, content=b"x" * 2000, headers={"content-type": "video/mp4"}).status_code == 403


def test_urls_forged_with_the_default_secret_are_refused(files):
    client, store, root = files
    forger = LocalStorage(root, base_url=store.base_url, secret=DEFAULT)
    put = forger.presigned_put("evil.html", "text/html", size=5)
    assert client.put(path_of(put), content=b"<b>x", headers={"content-type": "text/html"}).status_code == 403
    store.put_bytes("secret/report.csv", b"private")
    assert client.get(path_of(forger.presigned_get("secret/report.csv"))).status_code == 403


@pytest.mark.parametrize("key", ["../outside", "..%2F..%2Fetc%2Fpasswd", "a/../../x", "%2Fetc%2Fpasswd"])
def test_keys_outside_the_root_are_404(files, key):
    client, store, _root = files
    exp = int(time.time()) + 60
    r = client.get(f"/v1/files/{key}?expires={exp}&signature={store.sign('GET', key, exp)}")
    assert r.status_code == 404, r.text


def test_forged_unsubscribe_and_stream_tokens_are_refused(files, stack, api_key):
    client, _store, _root = files
    forged = unsubscribe.make_token(DEFAULT, "someone", "all")
    r = client.get("/v1/notifications/unsubscribe", params={"token": forged})
    assert 400 <= r.status_code < 500, r.text
    token, _ = stream_tokens.mint(DEFAULT, "somesession", ttl=60)
    r = client.get("/v1/tutor/sessions/somesession/stream", params={"token": token})
    assert 400 <= r.status_code < 500, r.text
