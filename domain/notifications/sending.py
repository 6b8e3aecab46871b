"""Send email deliveries exactly once per (notification, recipient): claim, send, mark.

1. Claim a batch in one statement (``FOR UPDATE SKIP LOCKED``): ``pending`` rows, or
   ``sending`` rows whose claim is older than ``stale_after`` (their sender died), read with
   what the send-time checks need: preference now ``off`` or a suppressed address →
   ``skipped``; switched to digest → ``digest``. The statement also says whether anything else
   in scope is still pending or sending, so the last batch needs no further claim or count.
2. Send each message through the provider, one SMTP transaction (or HTTP request) each,
   after the shared rate limit (slots taken a batch at a time).
3. Mark each one ``sent`` (with the provider's message id) right after the provider's answer:
   one prepared UPDATE on the sender's autocommit connection (``senderdb``).

Outcomes are per recipient. A recipient's temporary refusal (``RecipientDeferred``) defers
that row alone: back to ``pending`` with its own backoff (``next_attempt_at``) while the rest
of the batch is sent; the job retries when the earliest deferred row is due, and a row that
has been tried ``max_attempts`` times is ``failed``. A channel-wide refusal
(``ProviderUnavailable``: the account, the service, a rate limit) pauses the channel for every
sender (``RateLimiter.pause``) and hands the untried rows back without counting an attempt;
the job retries when the pause ends. ``attempts`` counts only tries that reached the provider.

The only ambiguous moment is a sender killed after the provider accepted a message and
before its mark reached the database (one round trip on the sender's own connection; a timeout
waiting for the provider's answer is the same ambiguity): that row is still ``sending`` and
is sent again once its claim is stale (at-least-once for that one message per killed
sender, never a loss). The resend carries the same Message-ID (derived from the delivery
id), so it can be recognised and dropped downstream. Every other message is sent exactly once.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, ContextManager

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.jobs.control import UNWATCHED, RunControl
from domain.jobs.errors import TransientError
from domain.notifications import preferences, render, types, unsubscribe
from domain.notifications.message import OutgoingEmail
from domain.notifications.models import BOUNCED, DIGEST, FAILED, PENDING, SENDING, SENT, SKIPPED, Delivery
from domain.notifications.providers import DeliveryRejected, EmailProvider, ProviderUnavailable, RecipientDeferred
from domain.notifications.senderdb import Scope, SenderConnection

log = logging.getLogger(__name__)
DEFERRED = "deferred"   # a count, not a status: a deferred row is pending with a later next_attempt_at


@dataclass(frozen=True)
class SendConfig:
    sender: str
    base_url: str
    secret: Any          # the unsubscribe KeyRing (or a bare secret)
    claim_batch: int = 50
    stale_after: float = 30.0
    max_attempts: int = 8
    defer_cap: float = 300.0        # a deferred recipient waits 2, 4, 8 ... seconds, at most this
    pause_default: float = 60.0     # how long a channel refusal without Retry-After pauses the channel

    def defer_delay(self, attempts: int) -> float:
        """Exponential backoff with full jitter for a recipient tried ``attempts`` times."""
        return random.uniform(0.5, 1.0) * min(self.defer_cap, 2.0 ** attempts)


def scope(notification_id: str, *, user_id: str | None = None, after: str | None = None,
          until: str | None = None) -> Scope:
    """Which email deliveries one job is responsible for."""
    return Scope(notification_id, user_id, after, until)


def absolute(base_url: str, link: str | None) -> str | None:
    if not link or "://" in link:
        return link
    return f"{base_url.rstrip('/')}/{link.lstrip('/')}"


class Sender:
    """One job's sender. ``uow`` opens a unit of work for the scope's queries; the marks go over
    an autocommit connection of its own taken from ``engine``."""

    def __init__(self, uow: Callable[[], ContextManager[Session]], engine: Engine, provider: EmailProvider,
                 config: SendConfig, owner: str, limiter=None):
        self.uow = uow
        self.db = SenderConnection(engine)
        self.provider, self.config, self.owner, self.limiter = provider, config, owner, limiter
        self.counts = {SENT: 0, FAILED: 0, BOUNCED: 0, SKIPPED: 0, DIGEST: 0, DEFERRED: 0}

    # --- 1. claim + send-time checks --------------------------------------------------
    def _claim(self, where: Scope) -> tuple[int, list[tuple[str, int, OutgoingEmail]], int | None]:
        """Claim up to ``claim_batch`` rows (``FOR UPDATE SKIP LOCKED``) with their notification,
        recipient, stored email preference and suppression (one statement on PostgreSQL, see
        ``senderdb.claim_sql``), and settle those the send-time checks rule out. Returns how many
        rows were claimed, the messages to send and how many other rows of the scope are still
        pending or sending (None: not known)."""
        now = utcnow()
        rows, others = self.db.claim(where, self.owner, now, now - timedelta(seconds=self.config.stale_after),
                                     self.config.claim_batch)
        ready, settled = self._checked(rows)
        for (status, error), done in settled.items():
            self.db.settle(done, self.owner, status, error)
        return len(rows), ready, others

    def _checked(self, rows: list) -> tuple[list[tuple[str, int, OutgoingEmail]], dict[tuple, list[str]]]:
        ready, settled = [], {}
        for r in rows:
            mode = (types.IMMEDIATE if r.priority == types.URGENT
                    else preferences.effective(r.type, types.EMAIL, r.stored_mode))
            if r.suppressed:
                outcome = (SKIPPED, "address is suppressed")
            elif mode == types.OFF:
                outcome = (SKIPPED, "unsubscribed at send time")
            elif mode == types.DIGEST and r.type != "daily_digest":
                outcome = (DIGEST, None)
            elif r.attempts > self.config.max_attempts:
                outcome = (FAILED, f"gave up after {r.attempts - 1} attempts: {r.last_error}")
            else:
                ready.append((r.id, r.attempts, self.compose(r)))
                continue
            settled.setdefault(outcome, []).append(r.id)
            self.counts[outcome[0]] += 1
        return ready, settled

    def compose(self, r) -> OutgoingEmail:
        """The message for one claimed row (``senderdb.claim_sql``'s columns)."""
        unsub = None
        if r.priority != types.URGENT:
            unsub = unsubscribe.url(self.config.base_url, self.config.secret, r.user_id, r.type)
        link = absolute(self.config.base_url, r.link)
        data = {**(r.data or {}), "title": r.title, "body": r.body}
        out = render.render(r.type, user={"id": r.user_id, "name": r.name, "email": r.email}, data=data,
                            link=link, unsubscribe_url=unsub, title=r.title)
        return OutgoingEmail(delivery_id=r.id, sender=self.config.sender, to=r.email, subject=out.subject,
                             text=out.text, html=out.html, unsubscribe_url=unsub,
                             headers={"X-Priority": "1"} if r.priority == types.URGENT else {})

    # --- 2 + 3. send and mark --------------------------------------------------------
    def _mark(self, delivery_id: str, status: str, *, message_id: str | None = None, error: str | None = None,
              suppress: str | None = None) -> None:
        """Right after the provider's answer: one prepared UPDATE on the autocommit connection
        (so little but the round trip stands between a 250 and its record)."""
        if status == SENT:
            marked = self.db.sent(delivery_id, self.owner, self.provider.name, message_id, utcnow())
        else:
            marked = self.db.done(delivery_id, self.owner, status, error)
        if marked != 1:
            log.warning("delivery %s was taken over by another sender before it was marked %s", delivery_id, status)
        if suppress:
            with self.uow() as s:
                preferences.suppress(s, suppress, f"bounced: {error}")
        self.counts[status] += 1

    def _release(self, ids: list[str], error: str) -> None:
        """Rows claimed and never tried go back to ``pending``; their claim's attempt is undone."""
        with self.uow() as s:
            s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.claimed_by == self.owner)
                      .values(status=PENDING, claimed_by=None, last_error=error[:2000],
                              attempts=Delivery.attempts - 1)
                      .execution_options(synchronize_session=False))

    def _defer(self, delivery_id: str, attempts: int, reason: str) -> None:
        """This recipient alone tries again later (the others of the batch go on)."""
        due = utcnow() + timedelta(seconds=self.config.defer_delay(attempts))
        if self.db.defer(delivery_id, self.owner, reason[:2000], due) != 1:
            log.warning("delivery %s was taken over by another sender before it was deferred", delivery_id)
        self.counts[DEFERRED] += 1

    def _pause_channel(self, exc: ProviderUnavailable) -> None:
        log.warning("email channel %s paused: %s", self.provider.name, exc)
        if self.limiter is not None:
            self.limiter.pause(exc.retry_after if exc.retry_after is not None else self.config.pause_default)

    def send_all(self, where: Scope, control: RunControl = UNWATCHED) -> dict:
        """Send everything in scope; raises ``TransientError`` (retry the job) when the
        provider asks us to wait, releasing what this run had claimed, and the ``JobCancelled``
        of ``control.check_cancelled()`` between batches (nothing is held then)."""
        try:
            return self._send_all(where, control)
        finally:
            self.db.close()

    def _send_all(self, where: Scope, control: RunControl) -> dict:
        more, others = True, None
        while more:         # a short claim, or one that saw nothing else, was the last
            control.check_cancelled()
            claimed, batch, others = self._claim(where)
            more = claimed == self.config.claim_batch and others != 0
            tokens = 0
            for i, (delivery_id, attempts, email) in enumerate(batch):
                if self.limiter is not None and tokens == 0:      # send slots, a batch at a time
                    tokens, wait = self.limiter.take(len(batch) - i)
                    if wait > 0:
                        self._release([d for d, _, _ in batch[i:]], "provider rate limit reached or channel paused")
                        raise ProviderUnavailable("shared provider rate limit reached or channel paused",
                                                  retry_after=wait)
                tokens -= 1
                try:
                    message_id = self.provider.send(email)
                except ProviderUnavailable as exc:     # the channel, not this message: nothing was tried
                    self._release([d for d, _, _ in batch[i:]], str(exc))
                    self._pause_channel(exc)
                    raise
                except RecipientDeferred as exc:
                    log.info("delivery %s deferred: %s", delivery_id, exc.reason)
                    self._defer(delivery_id, attempts, exc.reason)
                except DeliveryRejected as exc:
                    log.warning("delivery %s rejected: %s", delivery_id, exc.reason)
                    self._mark(delivery_id, BOUNCED if exc.bounced else FAILED, error=exc.reason[:2000],
                               suppress=email.to if exc.bounced else None)
                except BaseException as exc:
                    self._release([d for d, _, _ in batch[i:]], f"{type(exc).__name__}: {exc}")
                    raise
                else:
                    self._mark(delivery_id, SENT, message_id=message_id)
        if others == 0 and not self.counts[DEFERRED]:   # the last claim saw nothing else in scope: nothing left
            return dict(self.counts)
        with self.uow() as s:
            held, deferred, due = s.execute(
                select(func.count().filter(Delivery.status == SENDING),
                       func.count().filter(Delivery.status == PENDING), func.min(Delivery.next_attempt_at))
                .where(*where.clauses(), or_(Delivery.status == PENDING, Delivery.status == SENDING))).one()
        if not (held or deferred):
            return dict(self.counts)
        control.check_cancelled()
        if held:
            raise TransientError(f"{held} deliveries are still claimed by another sender; retrying later",
                                 retry_after=self.config.stale_after)
        wait = max(0.0, (due - utcnow()).total_seconds()) if due is not None else 0.0
        raise TransientError(f"{deferred} recipient(s) deferred by the provider; retrying them in {wait:.0f} s",
                             retry_after=wait)
