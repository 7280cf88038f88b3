"""The city's clock: what people type is read on it, what the platform shows is written on it.

One rule for every room (cases, IoT, risk, health, the items' ``datetime`` and CQL2): a time
without an offset is the city's local time (its profile's ``timezone``), never the session's UTC.
"""

from __future__ import annotations

import datetime as dt

# the zone of a city's clock unless its profile names another (China keeps one, UTC+8)
CHINA_TIME = "Asia/Shanghai"


def city_time(t: dt.date | dt.datetime | None, zone: str) -> dt.datetime | None:
    """A time a person typed, on the city's clock ``zone`` (its profile's ``timezone``): a
    date-time without an offset is the city's time, a date its first instant there, one with
    an offset itself. The platform's one rule for what people type (case times and periods,
    IoT ranges, the items' ``datetime``, CQL2's DATE against a date-time): a period 2026-06-01
    … 2026-07-01 is June in the city, not June in UTC (8 h later in China)."""
    if t is None:
        return None
    from zoneinfo import ZoneInfo

    if not isinstance(t, dt.datetime):
        return whole_minutes(dt.datetime.combine(t, dt.time(0), ZoneInfo(zone)))
    return t if t.tzinfo is not None else whole_minutes(t.replace(tzinfo=ZoneInfo(zone)))


def on_city_clock(t: dt.datetime, zone: str) -> dt.datetime:
    """An instant as the city reads it: on its clock ``zone`` (the profile's ``timezone``),
    with its offset — what listings and reports show (the session's UTC without an offset was
    read as local time, 8 hours off in China). An instant the city's clock cannot show (its
    year past 9999 or before 1 there) stays in UTC, or as given: a report of a period to
    9999-12-31 failed."""
    from zoneinfo import ZoneInfo

    try:
        return whole_minutes(t.astimezone(ZoneInfo(zone)))
    except OverflowError:
        try:
            return t.astimezone(dt.UTC)
        except OverflowError:  # nor in UTC (year 1 typed east of Greenwich): as given
            return t


def whole_minutes(t: dt.datetime) -> dt.datetime:
    """``t`` (the same instant) with an offset of whole minutes, as RFC 3339 writes one: a
    zone's local mean time before it took a standard offset has seconds (Asia/Shanghai until
    1901: +08:05:43), which made 1900-01-01T00:00:00+08:05:43 of every answer of such a date."""
    off = t.utcoffset()
    if off is None or not off.total_seconds() % 60:
        return t
    try:
        return t.astimezone(dt.timezone(dt.timedelta(minutes=round(off.total_seconds() / 60))))
    except OverflowError:
        return t


def city_today(zone: str = CHINA_TIME) -> dt.date:
    """Today in the zone ``zone`` (the city's: :attr:`CityProfile.timezone`)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(zone)).date()
