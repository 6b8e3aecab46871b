"""Every worker this session starts (the shared one included) sends mail to our loopback
SMTP server: its port is fixed here, at collection time, before any worker starts."""
from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cli.services import free_port

SMTP_PORT = free_port()
# SendGrid's Event Webhook signing key (P-256): the private half signs the tests' posts, intake is
# configured with the public half, as SendGrid shows it (base64 DER)
_WEBHOOK_KEY = ec.generate_private_key(ec.SECP256R1())
WEBHOOK_PUBLIC_KEY = base64.b64encode(_WEBHOOK_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
os.environ.update({
    "COURSEWORK_SENDGRID_WEBHOOK_PUBLIC_KEY": WEBHOOK_PUBLIC_KEY,
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


def sign_webhook(body: bytes, timestamp: str, key=None) -> str:
    """The signature SendGrid sends: ECDSA P-256 / SHA-256 over timestamp + body, base64 DER."""
    return base64.b64encode((key or _WEBHOOK_KEY).sign(timestamp.encode() + body,
                                                       ec.ECDSA(hashes.SHA256()))).decode()
