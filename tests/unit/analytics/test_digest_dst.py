"""The daily digest at a local time fires once per local date across both DST changes,
driven by a beat that ticks in UTC (frozen clock moved by time-machine)."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from domain.analytics.digest import due_local_date

AT = time(2, 30)   # inside the hour skipped in spring and the hour repeated in autumn
ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def simulate(start: datetime, hours: int, step_minutes: int = 5) -> dict:
    """Tick like beat every few minutes; record the first (exactly-once) fire per zone and date."""
    fired: dict[tuple[str, date], datetime] = {}
    calls: dict[tuple[str, date], int] = {}
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(hours * 60 // step_minutes):
            now = datetime.now(timezone.utc)
            for tz in ZONES:
                d = due_local_date(now, tz, AT)
                if d is not None:
                    calls[(tz, d)] = calls.get((tz, d), 0) + 1
                    fired.setdefault((tz, d), now)   # the digest table's unique (user, local_date)
            clock.shift(timedelta(minutes=step_minutes))
    return fired


@pytest.mark.parametrize("label,start", [
    ("spring: US 2026-03-08, EU 2026-03-29", datetime(2026, 3, 6, tzinfo=timezone.utc)),
    ("spring EU", datetime(2026, 3, 27, tzinfo=timezone.utc)),
    ("autumn: EU 2026-10-25", datetime(2026, 10, 23, tzinfo=timezone.utc)),
    ("autumn: US 2026-11-01", datetime(2026, 10, 30, tzinfo=timezone.utc)),
])
def test_one_digest_per_local_date_at_the_local_time(label, start):
    fired = simulate(start, hours=24 * 4)
    for tz in ZONES:
        dates = sorted(d for (z, d) in fired if z == tz)
        # every local date inside the window fired exactly once (dict keys), and no date is missing
        assert dates == [dates[0] + timedelta(days=i) for i in range(len(dates))], (tz, dates)
        assert len(dates) >= 3
        for d in dates[1:]:     # the first date may have started before the window
            local = fired[(tz, d)].astimezone(ZoneInfo(tz))
            assert local.date() == d
            # on time: 02:30 local, or the first moment after a skipped 02:xx (03:00 on spring-forward day)
            assert time(2, 30) <= local.time().replace(tzinfo=None) < time(3, 5), (tz, d, local)


def test_spring_forward_still_fires_and_autumn_fires_once():
    spring = simulate(datetime(2026, 3, 7, 12, tzinfo=timezone.utc), hours=36)
    ny = spring[("America/New_York", date(2026, 3, 8))].astimezone(ZoneInfo("America/New_York"))
    assert ny.time().replace(tzinfo=None) == time(3, 0)   # 02:30 does not exist that day
    autumn = simulate(datetime(2026, 10, 24, 12, tzinfo=timezone.utc), hours=36)
    berlin = autumn[("Europe/Berlin", date(2026, 10, 25))].astimezone(ZoneInfo("Europe/Berlin"))
    assert berlin.time().replace(tzinfo=None) == time(2, 30) and berlin.utcoffset() == timedelta(hours=2)
