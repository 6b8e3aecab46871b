"""Every worker this session starts (the shared one included) sends mail to our loopback
SMTP server: its port is fixed here, at collection time, before any worker starts."""
from __future__ import annotations

import os

import pytest

from cli.services import free_port

SMTP_PORT = free_port()
os.environ.update({
    "COURSEWORK_SMTP_PORT": str(SMTP_PORT),
    "COURSEWORK_EMAIL_PROVIDER": "smtp",
    "COURSEWORK_NOTIFY_CHUNK_SIZE": "7",
    "COURSEWORK_EMAIL_RATE_PER_SECOND": "5000",
})


@pytest.fixture(scope="session")
def smtp_server():
    from tests.integration.notifications.servers import SmtpServer

    server = SmtpServer(SMTP_PORT, rcpt_replies={"bounce@example.test": "550 5.1.1 no such user",
                                                 "busy@example.test": "451 4.3.0 try again later"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _sendgrid():
    from tests.integration.notifications.servers import SendGridServer

    server = SendGridServer().start()
    yield server
    server.stop()


@pytest.fixture
def sendgrid_server(_sendgrid):
    _sendgrid.script.clear()
    _sendgrid.requests.clear()
    return _sendgrid
