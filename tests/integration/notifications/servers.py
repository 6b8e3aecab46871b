"""Real servers on loopback for the notifications tests (and the benchmark):
an SMTP server (aiosmtpd) that records what it receives, and an HTTP server speaking
SendGrid's v3 ``/v3/mail/send`` with scripted answers (202, 429 + Retry-After, 5xx, 400)."""
from __future__ import annotations

import collections
import json
import threading
import uuid
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from cli.services import free_port


class _Recorder:
    def __init__(self, rcpt_replies: dict[str, str]):
        self.lock = threading.Lock()
        self.messages: list[dict] = []
        self.rcpt_replies = rcpt_replies

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.messages.append({"to": rcpt, "raw": envelope.original_content or envelope.content,
                                      "message_id": msg["Message-ID"], "subject": msg["Subject"],
                                      "headers": dict(msg.items()), "text": msg.get_body(("plain",)).get_content(),
                                      "html": msg.get_body(("html",)).get_content()})
        return f"250 2.0.0 Ok: queued as {uuid.uuid4().hex[:12]}"


class SmtpServer:
    """``SmtpServer().start()``; ``rcpt_replies={"x@y": "550 5.1.1 no such user"}`` scripts refusals."""

    def __init__(self, port: int | None = None, rcpt_replies: dict[str, str] | None = None):
        self.port = port or free_port()
        self.recorder = _Recorder(rcpt_replies or {})
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[dict]:
        with self.recorder.lock:
            return list(self.recorder.messages)

    @property
    def count(self) -> int:
        return len(self.recorder.messages)

    def to(self, address: str) -> list[dict]:
        return [m for m in self.messages if m["to"] == address]

    def per_recipient(self) -> collections.Counter:
        return collections.Counter(m["to"] for m in self.messages)

    def clear(self) -> None:
        with self.recorder.lock:
            self.recorder.messages.clear()


class SendGridServer:
    """Answers POST /v3/mail/send: scripted ``(status, headers, body)`` first, then 202."""

    def __init__(self, api_key: str = "SG.test-key"):
        self.api_key = api_key
        self.requests: list[dict] = []
        self.script: collections.deque = collections.deque()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v3/mail/send":
                    return self._answer(404, {}, {"errors": [{"message": "not found"}]})
                if self.headers.get("Authorization") != f"Bearer {outer.api_key}":
                    return self._answer(401, {}, {"errors": [{"message": "bad key"}]})
                outer.requests.append(json.loads(body))
                if outer.script:
                    status, headers, answer = outer.script.popleft()
                    return self._answer(status, headers, answer)
                return self._answer(202, {"X-Message-Id": uuid.uuid4().hex[:22]}, None)

            def _answer(self, status, headers, answer):
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "SendGridServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
