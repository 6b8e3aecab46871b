"""Work-arounds for kombu's Redis transport (5.7.0) killing a worker when Redis goes away.

When the broker connection drops while the consumer waits on BRPOP and holds unacknowledged
messages, Celery first ``collect()``s the connection, which detaches its transport
(``transport.client = None``) but leaves the default channel open because closing it failed
on the dead socket; Celery then ``close()``s the connection, the channel's close tries to
put the unacknowledged messages back, and building a Redis pool from the detached transport
raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``. That is not a
connection error, so the consumer reports it as unrecoverable and the worker exits.

Once reconnected, a task that finishes acks its message through the old, closed channel, which
hits the same dead end (``'NoneType' object has no attribute 'client'``) and kills the worker
too; a connection error there would only have been logged ("Couldn't ack").

So here a channel whose transport is detached skips that restore, and any other use of its
Redis pool raises a connection error. Nothing is lost: those messages are still in Redis's
unacked set (delivered again after ``visibility_timeout``) or gone with Redis's data, and
either way the job's row decides (the relay republishes a stranded job; the lease makes a
second delivery harmless).
"""
from __future__ import annotations

import logging

import redis
from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_original_restore_unacked = kombu_redis.QoS.restore_unacked
_original_get_pool = kombu_redis.Channel._get_pool


def _detached(channel) -> bool:
    return getattr(getattr(channel, "connection", None), "client", None) is None


def _restore_unacked(self, client=None):
    if client is None and _detached(self.channel):
        log.warning("broker connection already closed: %d unacknowledged message(s) left to Redis's "
                    "visibility timeout and the relay", len(self._delivered))
        self._delivered.clear()
        return None
    return _original_restore_unacked(self, client)


def _get_pool(self, asynchronous=False):
    if _detached(self):
        raise redis.ConnectionError("this broker channel was closed with its connection")
    return _original_get_pool(self, asynchronous)


def install() -> None:
    kombu_redis.QoS.restore_unacked = _restore_unacked
    kombu_redis.Channel._get_pool = _get_pool
