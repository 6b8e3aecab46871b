"""Per-learner daily token budget, counted in Redis (the client is passed in; no import here).

Keys: ``cw:tutor:budget:<user>:<YYYYMMDD>`` (UTC day, expires after two days) and a
``cw:tutor:charged:<reply>`` marker so a reply run twice is charged once.
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

    def charge(self, user_id: str, reply_id: str, tokens: int, client: Any = None) -> int | None:
        """Add ``tokens`` once per reply; returns the day's total. ``client``: a pipeline to queue the
        charge on instead (its ``execute`` gives the total)."""
        sent = (client or self.r).eval(_CHARGE, 2, self.key(user_id), f"cw:tutor:charged:{reply_id}",
                                       max(0, int(tokens)), _TTL)
        return None if client is not None else int(sent)
