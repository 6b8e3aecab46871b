"""Per-learner daily token budget, counted in Redis (the client is passed in; no import here).

Keys: ``cw:tutor:budget:<user>:<YYYYMMDD>`` (UTC day, expires after two days), a
``cw:tutor:reserved:<reply>`` hash (tokens held for a reply being written, and the day they
count against) and a ``cw:tutor:charged:<reply>`` marker so a reply run twice is charged once.

A reply reserves what it may cost before the model is called (its prompt and at most the
completion it asks the model for, cut to what is left of the day's budget), and settles after:
the day's count keeps the actual cost, never more than was reserved. So concurrent replies of
one learner never take the learner past the budget; a reply that fails releases its
reservation, and a rerun of the same reply finds it again.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from domain.jobs.errors import PermanentError

_CHARGE = """
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then
  local used = redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return used
end
return tonumber(redis.call('GET', KEYS[1]) or '0')
"""
_TTL = 2 * 24 * 3600
# KEYS: day counter, reservation; ARGV: wanted, minimum worth reserving, limit, ttl, day.
# Returns {tokens reserved (0: not enough left), tokens used of the day before}.
_RESERVE = """
local held = redis.call('HGET', KEYS[2], 'tokens')
if held then return {tonumber(held), tonumber(redis.call('GET', KEYS[1]) or '0')} end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local left = tonumber(ARGV[3]) - used
if left < tonumber(ARGV[2]) then return {0, used} end
local take = math.min(tonumber(ARGV[1]), left)
redis.call('INCRBY', KEYS[1], take)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('HSET', KEYS[2], 'tokens', take, 'day', KEYS[1])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {take, used}
"""
# KEYS: reservation, charged marker; ARGV: actual, ttl. Nothing reserved (or settled before): 0.
_SETTLE = """
local held = redis.call('HGET', KEYS[1], 'tokens')
if not held or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local actual = math.min(tonumber(ARGV[1]), tonumber(held))
local delta = actual - tonumber(held)
if delta ~= 0 then redis.call('INCRBY', redis.call('HGET', KEYS[1], 'day'), delta) end
redis.call('DEL', KEYS[1])
if actual > 0 then redis.call('SET', KEYS[2], actual, 'EX', ARGV[2]) end
return actual
"""


class BudgetExhausted(PermanentError):
    code = "budget_exhausted"

    def __init__(self, used: int, limit: int, retry_after: int):
        super().__init__(f"the learner's daily tutor budget is spent ({used} of {limit} tokens); "
                         f"it resets at 00:00 UTC, in {retry_after} s")
        self.used, self.limit, self.retry_after = used, limit, retry_after


def seconds_until_reset(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


class DailyBudget:
    def __init__(self, redis: Any, limit: int, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.r, self.limit, self.clock = redis, limit, clock

    def key(self, user_id: str) -> str:
        return f"cw:tutor:budget:{user_id}:{self.clock():%Y%m%d}"

    def used(self, user_id: str) -> int:
        return int(self.r.get(self.key(user_id)) or 0)

    def remaining(self, user_id: str) -> int:
        return max(0, self.limit - self.used(user_id))

    def check(self, user_id: str) -> None:
        used = self.used(user_id)
        if self.limit <= 0 or used >= self.limit:
            raise BudgetExhausted(used, self.limit, seconds_until_reset(self.clock()))

    def reserve(self, user_id: str, reply_id: str, wanted: int, minimum: int = 1) -> int:
        """Hold up to ``wanted`` tokens of the day's budget for this reply (at least ``minimum``,
        else ``BudgetExhausted``); a reply that already holds a reservation gets it back."""
        if self.limit <= 0:
            raise BudgetExhausted(self.used(user_id), self.limit, seconds_until_reset(self.clock()))
        taken, used = self.r.eval(_RESERVE, 2, self.key(user_id), f"cw:tutor:reserved:{reply_id}",
                                  max(1, int(wanted)), max(1, int(minimum)), self.limit, _TTL)
        if int(taken) <= 0:
            raise BudgetExhausted(int(used), self.limit, seconds_until_reset(self.clock()))
        return int(taken)

    def settle(self, user_id: str, reply_id: str, tokens: int, client: Any = None) -> int | None:
        """Replace the reply's reservation by its actual cost (at most what was reserved; 0 releases
        it); returns what was charged (0 when there was no reservation, or it was settled before).
        ``client``: a pipeline to queue it on instead."""
        sent = (client or self.r).eval(_SETTLE, 2, f"cw:tutor:reserved:{reply_id}", f"cw:tutor:charged:{reply_id}",
                                       max(0, int(tokens)), _TTL)
        return None if client is not None else int(sent)

    def charge(self, user_id: str, reply_id: str, tokens: int, client: Any = None) -> int | None:
        """Add ``tokens`` once per reply; returns the day's total. ``client``: a pipeline to queue the
        charge on instead (its ``execute`` gives the total)."""
        sent = (client or self.r).eval(_CHARGE, 2, self.key(user_id), f"cw:tutor:charged:{reply_id}",
                                       max(0, int(tokens)), _TTL)
        return None if client is not None else int(sent)
