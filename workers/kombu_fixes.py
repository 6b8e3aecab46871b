"""A work-around for kombu's Redis transport (5.7.0) killing a worker when Redis goes away.

When the broker connection drops while the consumer waits on BRPOP and holds unacknowledged
messages, Celery first ``collect()``s the connection, which detaches its transport
(``transport.client = None``) but leaves the default channel open because closing it failed
on the dead socket; Celery then ``close()``s the connection, the channel's close tries to
put the unacknowledged messages back, and building a Redis pool from the detached transport
raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``. That is not a
connection error, so the consumer reports it as unrecoverable and the worker exits.

Here a channel whose transport is detached skips that restore. Nothing is lost: the messages
are still in Redis's unacked set (restored after ``visibility_timeout``) or gone with Redis's
data, and either way the job's row decides (the relay republishes a stranded job; the lease
makes a second delivery harmless).
"""
from __future__ import annotations

import logging

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_original_restore_unacked = kombu_redis.QoS.restore_unacked


def _restore_unacked(self, client=None):
    transport = getattr(self.channel, "connection", None)
    if client is None and getattr(transport, "client", None) is None:
        log.warning("broker connection already closed: %d unacknowledged message(s) left to Redis's "
                    "visibility timeout and the relay", len(self._delivered))
        self._delivered.clear()
        return None
    return _original_restore_unacked(self, client)


def install() -> None:
    if kombu_redis.QoS.restore_unacked is not _restore_unacked:
        kombu_redis.QoS.restore_unacked = _restore_unacked
