"""Where a pipe code is on the network: shared by the trace and the isolation.

Both analyses (:mod:`layers.query.trace`, :mod:`layers.query.isolation`) start from a code a
user pasted: which layer and class it is current in (or when it stopped being current: a code
from an older load), which segment a point lies along and where on it, and which classes drain
by gravity (a trace follows them, an isolation refuses them). One reading of a code for both,
so a trace and an isolation of one code agree on what it is; the results' rounding is here for
the same reason.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from cim.cityclock import CHINA_TIME, on_city_clock
from cim.errors import InputError
from cim.profile import CityProfile
from layers.query.pipes import resolve_profile

_LOCATE = """
SELECT 'segment', pipe_class, NULL::text FROM pipe_segments WHERE code = %s AND valid_to IS NULL
UNION ALL
SELECT 'point', pipe_class, segment_code FROM pipe_points WHERE code = %s AND valid_to IS NULL"""


def gravity_classes(profile: CityProfile | None = None) -> set[str]:
    """Class codes flagged ``gravity`` in the (city's) pipe_classes dictionary: {"02"}."""
    if profile is not None:
        rows = profile.dictionary("pipe_classes")
    else:
        from cim.profile import DICTIONARY_DIR, read_csv_dictionary

        rows = read_csv_dictionary(DICTIONARY_DIR / "pipe_classes.csv")
    return {r["code"] for r in rows if r.get("gravity") == "1"}


# when a code that is no current pipe's was last current: looked up in the code registry
# first (each partition's unique index on code), so a mistyped code — the usual case — reads
# no pipe history: the tables' only code index is of current versions, and `code = …` over all
# versions was a sequential scan of the whole history per request. Only a code the registry
# issued to a pipe layer reads the history for its last version's end.
_ENDED = """
SELECT max(h.valid_to)
FROM code_registry r
CROSS JOIN LATERAL (
  SELECT valid_to FROM pipe_segments WHERE r.layer = 'pipe_segments' AND code = r.code
  UNION ALL
  SELECT valid_to FROM pipe_points WHERE r.layer = 'pipe_points' AND code = r.code) h
WHERE r.code = %s AND r.layer IN ('pipe_segments', 'pipe_points')"""


class NoLongerCurrent(InputError):
    """A code from an older load (replaced or removed since). The instant its last version
    ended is kept (``ended``, UTC) so a caller that knows the profile in use — the command
    line's ``--profile FILE`` — can say it on that city's clock (:meth:`on_clock`): the
    analyses read the configured profile's when none is handed to them."""

    def __init__(self, code: str, ended: dt.datetime, zone: str) -> None:
        self.code, self.ended = code, ended
        when = on_city_clock(ended, zone)
        super().__init__(f"pipe code {code!r} is no longer current: its last version ended "
                         f"{when.isoformat(sep=' ', timespec='minutes')} (removed or "
                         "replaced by a later load)")

    def on_clock(self, zone: str) -> NoLongerCurrent:
        """The same error with the time on the clock ``zone`` (an IANA zone)."""
        return NoLongerCurrent(self.code, self.ended, zone)


def _locate(conn: psycopg.Connection, code: str, profile: CityProfile | None = None
            ) -> tuple[str, str, str | None]:
    """(kind, class, segment a point lies on) of the current pipe ``code``. ``profile``: the
    one in use (its clock tells when an old code ended); None reads the configured one."""
    row = conn.execute(_LOCATE, (code, code)).fetchone()
    if row is None:
        ended = conn.execute(_ENDED, (code,)).fetchone()[0]
        if ended is not None:  # a code from an older load: replaced or removed since
            # on the city's clock (the session's UTC read 8 h off)
            zone = getattr(profile or resolve_profile(None), "timezone", CHINA_TIME)
            raise NoLongerCurrent(code, ended, zone)
        raise InputError(f"no current pipe segment or pipe point has code {code!r}")
    return row


def _r(x: float) -> float:
    return round(float(x), 3)


def _r6(x: float) -> float:
    return round(float(x), 6)


_ALONG = """
SELECT p.code, s.code, ST_LineLocatePoint(ST_Force2D(s.geom), ST_Force2D(p.geom))
FROM pipe_points p
JOIN pipe_segments s ON s.code = p.segment_code AND s.valid_to IS NULL
WHERE p.valid_to IS NULL AND p.pipe_class = %s AND p.code = ANY(%s)"""


def _along(conn: psycopg.Connection, cls: str, codes: list[str]) -> dict[str, tuple[str, float]]:
    """Points of class ``cls`` along a segment (not its ends: a GIS network's tank, plant or
    station snapped onto a pipe): code → (segment code, position 0..1 on it)."""
    if not codes:
        return {}
    return {c: (seg, float(at or 0.0)) for c, seg, at in conn.execute(_ALONG, (cls, codes))}
