"""Times of readings as senders and operators write them, read without changing them.

A reading's time is half of its key (sensor + time: the ingest is idempotent on it), stored
as a ``timestamptz``, which holds microseconds. Python's ``fromisoformat`` cuts a fraction of
a second after its sixth digit without a word (``…00.123456789`` → ``…00.123456``): two
readings 1 µs apart in a nanosecond clock would become one key (one of them then a
"duplicate" or a "conflict"), and a range bound would move. So digits below the microsecond
are accepted only when they are zeros (a Java ``Instant`` or Go ``RFC3339Nano`` of a
whole microsecond) and otherwise refused, naming the time, for the sender to round.

A time without an offset takes the one the operator names (``cim iot import --tz``): a fixed
offset (+08:00) or the city's IANA zone (Asia/Shanghai), the latter through the platform's one
rule for the city's clock (:func:`cim.cityclock.city_time`). A local time a zone with summer
time has twice (the hour the clocks go back) or not at all (the hour they skip) is refused:
either instant chosen silently would be an hour off, or two readings one key.
"""

from __future__ import annotations

import datetime as dt
import re

from cim.text import shown

_FRACTION = re.compile(r"[.,](\d{7,})")

# the most months `cim iot partitions` keeps ahead of (or behind) this one: a century;
# readings' years lie in 1900–2200 (layers.iot.ingest.READING_YEARS), and a month past year
# 9999 is no date (an internal error)
MAX_MONTHS = 1200


def below_microsecond(text: str) -> str | None:
    """The fraction of a second ``text`` writes, when it has non-zero digits after the sixth
    (which a stored time cannot hold); None when it has none."""
    m = _FRACTION.search(text)
    return m.group(1) if m and m.group(1)[6:].strip("0") else None


def sub_microsecond_problem(text: str) -> str | None:
    """Why ``text`` is refused as a time for its digits below the microsecond, else None."""
    frac = below_microsecond(text)
    if frac is None:
        return None
    digits = f" (.{frac})" if len(frac) <= 20 else ""
    return (f"time {shown(text.strip())} has a fraction of a second to {len(frac)} digits"
            f"{digits}: times are kept to the microsecond and never cut (two readings a "
            "nanosecond apart would become one); round it to at most 6 decimals")


def parse_offset_or_zone(text: str) -> dt.tzinfo | str:
    """A ``--tz`` value: a fixed UTC offset (+08:00, -05:00, Z) as a tzinfo, or an IANA zone
    name (Asia/Shanghai) as the name, for :func:`cim.cityclock.city_time`; a ValueError saying
    what is accepted otherwise (a name in other letter case is named back as the zone)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    value = text.strip()
    if value[:1] in ("+", "-") or value in ("Z", "z"):
        try:
            tz = dt.datetime.fromisoformat(f"2000-01-01T00:00:00{value.upper()}").tzinfo
        except ValueError:
            tz = None
        if tz is not None:
            return tz
        raise ValueError(f"{shown(text)} is no UTC offset (+08:00, -05:30, Z)")
    try:
        ZoneInfo(value)
        return value
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'Asia' is a directory
        pass
    same = sorted(z for z in available_timezones() if z.lower() == value.lower())
    hint = f" (did you mean {same[0]}?)" if same else ""
    raise ValueError(f"{shown(text)} is neither a UTC offset such as +08:00 nor an IANA time zone "
                     f"such as Asia/Shanghai{hint}")


def local_problem(t: dt.datetime, zone: str) -> str | None:
    """Why the wall-clock time ``t`` (no offset) cannot be read in ``zone``: the clocks went
    back over it (it happened twice) or skipped it (it never happened); None for a time the
    zone had once."""
    from zoneinfo import ZoneInfo

    z = ZoneInfo(zone)
    first, second = t.replace(tzinfo=z, fold=0), t.replace(tzinfo=z, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    shown = t.isoformat(sep=" ")
    if first.astimezone(dt.UTC).astimezone(z).replace(tzinfo=None) == t:
        return (f"time {shown} happened twice in {zone} (the clocks went back, "
                f"{first.isoformat()} and {second.isoformat()}): write it with its UTC offset")
    return (f"time {shown} never happened in {zone} (the clocks skipped it): write it with "
            "its UTC offset")
