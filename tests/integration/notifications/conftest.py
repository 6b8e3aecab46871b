"""The notifications tests' settings and servers. The loopback SMTP server every worker of the
session sends to is the session's own (``tests/conftest.py``: up from the start, so no family's
emails meet a closed port and pause the channel)."""
from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# SendGrid's Event Webhook signing key (P-256): the private half signs the tests' posts, intake is
# configured with the public half, as SendGrid shows it (base64 DER)
_WEBHOOK_KEY = ec.generate_private_key(ec.SECP256R1())
WEBHOOK_PUBLIC_KEY = base64.b64encode(_WEBHOOK_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
os.environ.update({
    "COURSEWORK_SENDGRID_WEBHOOK_PUBLIC_KEY": WEBHOOK_PUBLIC_KEY,
    "COURSEWORK_EMAIL_PROVIDER": "smtp",
    "COURSEWORK_NOTIFY_CHUNK_SIZE": "7",
    "COURSEWORK_EMAIL_RATE_PER_SECOND": "5000",
})


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
