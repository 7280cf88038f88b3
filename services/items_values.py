"""A ``property=value`` filter's value in its property's type, checked here rather than by
PostgreSQL (whose cast error named nothing, or was a 500 on pygeoapi's pages), for the
platform's items path and the pygeoapi provider alike; times read on the city's clock as
``datetime=`` and CQL2 read them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from services.items_query import _NUMBER, _RFC3339, Column, ParamError, _in_zone, city_zone


def property_value(col: Column, v: str) -> object:
    """A property filter's value in the column's type (checked here, not by PostgreSQL), for
    the items path and the provider alike."""
    if col.json_type == "integer":
        try:
            return int(v)
        except ValueError:
            raise ParamError(f"{col.name} is a whole number, not {v!r}") from None
    if col.json_type == "number":
        if not _NUMBER.fullmatch(v.strip()):
            raise ParamError(f"{col.name} is a number, not {v!r}")
        return float(v)
    if col.json_type == "boolean":
        if v.lower() not in ("true", "false"):
            raise ParamError(f"{col.name} is true or false, not {v!r}")
        return v.lower() == "true"
    if col.json_type in ("date", "date-time"):  # PostgreSQL's cast error named nothing
        return _date_value(col, v)
    if col.json_type == "object":  # compared as jsonb: the text must be JSON
        try:
            json.loads(v)
        except (ValueError, RecursionError):
            raise ParamError(f"{col.name} is a JSON object; {v[:80]!r} is no JSON") from None
    return v


@dataclass(frozen=True)
class Span:
    """A property filter's value that is a stretch of time: a date given for a date-time
    property, the whole of that day on the city's clock (``start`` ≤ t < ``end``)."""

    start: datetime
    end: datetime


def _date_value(col: Column, v: str) -> date | datetime | Span:
    """A date (``YYYY-MM-DD``) or an RFC 3339 date-time, ASCII digits only, read as
    ``datetime=`` and CQL2 read them (:func:`cim.cityclock.city_time`): a time without an offset
    on the city's clock, a date alone on a date-time property the city's whole day (it was
    midnight UTC: ``opened_at=2026-06-15`` found only what opened at 08:00 in China)."""
    text = v.strip()
    zone = city_zone()
    try:
        if not text.isascii() or not _RFC3339.fullmatch(text):  # 20260615 was an instant
            raise ValueError(text)
        if col.json_type == "date" or len(text) == 10:
            if len(text) != 10:
                raise ValueError(text)
            day = date.fromisoformat(text)
            if col.json_type == "date":
                return day
            # the last day there is ends after every time a column holds (its next day was
            # an OverflowError, a 500)
            last = datetime.max.replace(tzinfo=UTC)
            if zone is None:  # outside the app: the database's sessions' zone (UTC)
                start = datetime(day.year, day.month, day.day, tzinfo=UTC)
                return Span(start, start + timedelta(days=1) if day < date.max else last)
            if day == date.max:
                return Span(_in_zone(day, zone), last)
            nxt = day + timedelta(days=1)
            return Span(_in_zone(day, zone), _in_zone(nxt, zone))
        t = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = _in_zone(t, zone) if zone is not None else t.replace(tzinfo=UTC)
        return t
    except ValueError:
        kind = ("a date (YYYY-MM-DD)" if col.json_type == "date"
                else "a date-time (RFC 3339, 2026-06-15T08:00:00+08:00)")
        raise ParamError(f"{col.name} is {kind}, not {v[:80]!r}") from None
