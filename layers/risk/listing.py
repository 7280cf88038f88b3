"""Reading the risk list: the current points, counts per grid cell or district, a point's
level history (``risk_assessments``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.rows import dict_row

from cim.errors import InputError
from layers.risk.config import COLORS, LEVELS

_COLUMNS = ("code, risk_type_code, risk_type, domain_code, domain, asset_layer, asset_code, "
            "description, responsible_unit, likelihood, consequence, level, color, measure, "
            "measure_unit, deadline, measure_status, source, rule_id, district_code, grid_code")

# where a point is: in the storage CRS by its axes' names, and in CGCS2000 degrees
_PLACE = ("ST_X(geom) AS easting, ST_Y(geom) AS northing, "
          "ST_X(ST_Transform(geom, 4490)) AS lon, ST_Y(ST_Transform(geom, 4490)) AS lat")


def _defaulted(factors: str) -> str:
    """A likelihood `cim risk add` took by default (no --likelihood), read from the factors
    column ``factors`` (a point's ``attrs``, an assessment's ``factors``): nobody assessed it."""
    return (f"coalesce(({factors}->'likelihood'->>'defaulted')::boolean, false) "
            "AS likelihood_defaulted")


def level_of(value: str) -> str:
    """重大/较大/一般/低 or the colour 红/橙/黄/蓝 → the level."""
    if value in LEVELS:
        return value
    if value in COLORS:
        return LEVELS[COLORS.index(value)]
    raise InputError(f"level {value!r}: one of {' '.join(LEVELS)} or {' '.join(COLORS)}",
                     field="--level")


def _filters(level: str | None, risk_type: str | None, types: Iterable[str] | None
             ) -> tuple[list[str], list[Any]]:
    """The conditions of ``--level`` and ``--type`` (both the list's and the counts')."""
    cond, params = ["valid_to IS NULL"], []
    if level:
        cond.append("level = %s")
        params.append(level_of(level))
    if risk_type and types is not None and risk_type not in set(types):
        raise InputError(f"unknown risk type {risk_type!r}; types: {', '.join(sorted(types))}",
                         field="--type")
    if risk_type:
        cond.append("risk_type_code = %s")
        params.append(risk_type)
    return cond, params


def list_points(conninfo: str, level: str | None = None, risk_type: str | None = None,
                types: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Current points, most severe first, each at ``easting``/``northing`` (the storage CRS)
    and ``lon``/``lat`` (EPSG:4490). They were ``x``/``y``: a surveyor's X is the northing,
    a GIS tool's x the easting — one of the two read every point swapped. ``types``: the
    risk-type catalog's codes; a ``risk_type`` not among them is an error, not an empty
    list."""
    cond, params = _filters(level, risk_type, types)
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        return conn.cursor(row_factory=dict_row).execute(
            f"SELECT {_COLUMNS}, {_defaulted('attrs')}, {_PLACE} "
            "FROM risk_points "
            f"WHERE {' AND '.join(cond)} ORDER BY array_position(%s::text[], level), "
            "risk_type_code, code", (*params, list(LEVELS))).fetchall()


def counts_by(conninfo: str, by: str, level: str | None = None, risk_type: str | None = None,
              types: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Current points per grid cell or district and level (a unit's four counts in a row),
    of ``level`` and ``risk_type`` when given, as :func:`list_points` takes them (the counts
    left them out: ``--by grid --level 红`` counted every level, an unknown type too)."""
    col = {"grid": "grid_code", "district": "district_code"}.get(by)
    if col is None:
        raise InputError(f"--by {by!r}: grid or district", field="--by")
    cond, params = _filters(level, risk_type, types)
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        rows = conn.execute(
            f"SELECT {col}, level, count(*) FROM risk_points WHERE {' AND '.join(cond)} "
            "GROUP BY 1, 2 ORDER BY 1 NULLS LAST", params).fetchall()
    out: dict[Any, dict[str, Any]] = {}
    for unit, level, n in rows:
        r = out.setdefault(unit, {"unit_code": unit, **{lv: 0 for lv in LEVELS}, "total": 0})
        r[level] += n
        r["total"] += n
    return list(out.values())


def history(conninfo: str, code: str) -> list[dict[str, Any]]:
    """Every assessment of the point ``code``, oldest first: in the order of ``assessed_at``,
    the time each grading holds from (an assessment run's time; an alarm's raise or restore is
    recorded in the point's latest run at the alarm's own time, which may be before that run —
    readings sent late — so the run id is no time order). ``code`` pasted from a table may
    carry blanks around it."""
    code = code.strip()
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        return conn.cursor(row_factory=dict_row).execute(
            "SELECT run_id, assessed_at, year, source, likelihood, consequence, level, color, "
            "factors, "
            f"{_defaulted('factors')} FROM risk_assessments WHERE code = %s "
            "ORDER BY assessed_at, id", (code,)).fetchall()
