"""Test session wiring. Before anything imports ``celeryconfig``, point the settings at this
session's own PostgreSQL database, private Redis and loopback S3 server; the fixtures below
create them on first use (a missing service fails with how to start it)."""
from __future__ import annotations

import os
import secrets

import pytest

from cli.services import free_port

_DB_NAME = f"cw_test_{secrets.token_hex(4)}"
_REDIS_PORT = free_port()
_S3_PORT = free_port()
_SMTP_PORT = free_port()


def pytest_configure(config):
    from tests.support import sessions
    from tests.support.stack import PG_ADMIN, TEST_SETTINGS, sqlalchemy_url

    base = PG_ADMIN.rsplit("/", 1)[0]
    os.environ.update(TEST_SETTINGS)
    os.environ.update(sessions.env())     # sandbox slot uids and folder of this session's own
    os.environ.update({
        "COURSEWORK_DATABASE_URL": sqlalchemy_url(f"{base}/{_DB_NAME}"),
        "COURSEWORK_REDIS_URL": f"redis://127.0.0.1:{_REDIS_PORT}/0",
        "COURSEWORK_S3_ENDPOINT_URL": f"http://127.0.0.1:{_S3_PORT}",
        "COURSEWORK_SMTP_PORT": str(_SMTP_PORT),
    })


@pytest.fixture(scope="session", autouse=True)
def smtp_server():
    """A loopback SMTP server (aiosmtpd) for the whole session, up before any worker starts: every
    worker sends the session's emails here (notifications tests read them; ``rcpt_replies`` script
    a bounce and a temporary refusal)."""
    from tests.integration.notifications.servers import SmtpServer

    server = SmtpServer(_SMTP_PORT, rcpt_replies={"bounce@example.test": "550 5.1.1 no such user",
                                                  "busy@example.test": "451 4.3.0 try again later"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database():
    from tests.support.stack import Database

    db = Database(_DB_NAME).create()
    yield db
    db.drop()


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request, tmp_path):
    """Each database the platform runs on, in turn: the session's PostgreSQL, then a migrated SQLite
    file of the test's own (the embedded demo's)."""
    if request.param == "sqlite":
        from cli.services import migrate

        url = f"sqlite:///{tmp_path / 'coursework.db'}"
        migrate(url)
        return url
    return request.getfixturevalue("database").url


@pytest.fixture(scope="session")
def redis_server():
    from cli.services import RedisServer

    try:
        server = RedisServer(_REDIS_PORT).start()
    except Exception as exc:
        pytest.fail(f"could not start a private redis-server ({exc}); install it with "
                    "'apt-get install redis-server' or run 'bash .ci/run'", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    from domain.storage import S3Storage
    from tests.support.stack import S3Server

    server = S3Server(_S3_PORT).start()
    S3Storage("coursework-test", endpoint_url=server.endpoint).ensure_bucket()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(database, redis_server, s3_server):
    """The shared stack: one worker (all queues) and one intake, started on first use."""
    from tests.support.stack import Stack

    st = Stack(database, redis_server.url, s3_server.endpoint)
    yield st
    st.stop()


@pytest.fixture(scope="session")
def worker(stack):
    return stack.start_worker(concurrency=2, name="shared")


@pytest.fixture(scope="session")
def intake(stack):
    return stack.start_intake()


@pytest.fixture(scope="session")
def api_key(stack):
    return stack.create_key("enqueue,read,operate", name="test-all")


@pytest.fixture(scope="session")
def api(stack, intake, worker, api_key):
    """An HTTP client for the shared intake, with a worker behind it."""
    with stack.client(api_key) as client:
        yield client


@pytest.fixture
def db(database):
    """A session factory bound to the test database (fixtures go through the domain layer)."""
    from domain.db import session_factory

    return session_factory(database.url)
