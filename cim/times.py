"""How the platform writes an instant wherever it states one as JSON text: a case's or an
alarm's stored ``detail``, the times an answer writes itself (README: ``--json`` and the HTTP
answers write times in RFC 3339, ``2026-06-15T05:00:00+00:00``; docs/iot.md, docs/cases.md).

One function for the case loop and the monitoring alike, here in the core so neither imports
the other for it: the case path had written ``at.isoformat()`` in whatever zone the time came
in (a reading sent with +08:00, the database session's zone) while the alarm path wrote UTC,
so the same instant of one escalation read two ways in an alarm and in its case. Times the
documentation puts on the city's clock (a bucket's bounds, an evaluation period as typed, a
CLI's text) are not instants written for a machine and keep their own form.
"""

from __future__ import annotations

import datetime as dt


def rfc3339(t: dt.datetime) -> str:
    """``t`` as RFC 3339 text in UTC (``2026-12-01T08:00:00+00:00``; a fraction of a second as
    Python writes it, six digits). A time without an offset is refused (ValueError): it names
    no instant, and ``astimezone`` would read it on the machine's clock, which differs
    between a developer's laptop and the city's server."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"time {t.isoformat()} has no UTC offset: it names no instant")
    return t.astimezone(dt.UTC).isoformat()
