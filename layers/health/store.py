"""Health results in the database: ``health_runs`` and ``health_indicators`` (migration 0006).

One row per indicator × unit (each district and the city) × year, with the unit's polygon
(the district's, the union of the districts for the city) so the rows are an OGC API
collection. Recomputing a year retires that year's current rows (``valid_to`` set, as a layer's
old versions are) and writes the new ones in the same transaction: earlier years stay current,
the replaced results stay readable. ``code`` = ``{year}-{indicator}-{unit}`` is unique among
current rows.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from cim.text import json_value
from layers.health.compute import CITY, INDEX_ID

_INSERT = (
    "INSERT INTO health_indicators (code, run_id, year, indicator_id, name, name_en, dimension,"
    " unit, direction, unit_kind, unit_code, unit_name, value, target, status, score,"
    " previous_year, previous_value, change, trend, method, flags, detail, geom)"
    " VALUES (%(code)s, %(run)s, %(year)s, %(id)s, %(name)s, %(name_en)s, %(dimension)s,"
    " %(unit)s, %(direction)s, %(unit_kind)s, %(unit_code)s, %(unit_name)s, %(value)s,"
    " %(target)s, %(status)s, %(score)s, %(previous_year)s, %(previous_value)s, %(change)s,"
    " %(trend)s, %(method)s, %(flags)s, %(detail)s,"
    " (SELECT ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) FROM admin_divisions"
    "   WHERE valid_to IS NULL AND (%(unit_code)s = 'city' OR code = %(unit_code)s)))")


def previous_values(conn: psycopg.Connection, year: int
                    ) -> tuple[int | None, dict[tuple[str, str], float]]:
    """The newest stored year before ``year`` and its current values by (indicator, unit)."""
    prev = conn.execute("SELECT max(year) FROM health_indicators WHERE valid_to IS NULL "
                        "AND year < %s", (year,)).fetchone()[0]
    if prev is None:
        return None, {}
    rows = conn.execute("SELECT indicator_id, unit_code, value FROM health_indicators "
                        "WHERE valid_to IS NULL AND year = %s AND value IS NOT NULL",
                        (prev,)).fetchall()
    return prev, {(i, u): v for i, u, v in rows}


def moved_units(conn: psycopg.Connection, year: int | None) -> set[str]:
    """The units (district codes, ``city``) whose polygon stored with ``year``'s results is
    not their polygon now (more than 0.01 m² apart): the districts' boundaries changed in
    between, so a change against that year compares two different areas — flagged
    ``boundary_changed``, not read as a district improving or worsening."""
    if year is None:
        return set()
    return {r[0] for r in conn.execute(
        "SELECT h.unit_code FROM health_indicators h WHERE h.valid_to IS NULL AND h.year = %s"
        " AND h.indicator_id = %s AND h.geom IS NOT NULL AND coalesce(ST_Area(ST_SymDifference("
        "   h.geom, (SELECT ST_Multi(ST_CollectionExtract(ST_Union(geom), 3))"
        "     FROM admin_divisions WHERE valid_to IS NULL"
        "     AND (h.unit_code = 'city' OR code = h.unit_code)))), 0) > 0.01",
        (year, INDEX_ID))}


def _rows(result: dict[str, Any], run_id: int) -> list[dict[str, Any]]:
    year = result["year"]
    out = []
    for ind in result["indicators"]:
        for e in [ind["city"], *ind["districts"]]:
            out.append({
                "code": f"{year}-{ind['id']}-{e['unit_code']}", "run": run_id, "year": year,
                "id": ind["id"], "name": ind["name_zh"], "name_en": ind["name_en"],
                "dimension": ind["dimension"], "unit": ind["unit"],
                "direction": ind["direction"], **{k: e[k] for k in (
                    "unit_kind", "unit_code", "unit_name", "value", "target", "status",
                    "score", "previous_value", "change", "trend", "method", "flags")},
                "previous_year": result["previous_year"] if e["previous_value"] is not None
                else None,
                "detail": json.dumps(e["detail"], ensure_ascii=False, default=json_value)})
    # the index's units named as the indicators' are (the district's name, the city's)
    names = {e["unit_code"]: e["unit_name"] for ind in result["indicators"]
             for e in [ind["city"], *ind["districts"]]}
    for code, u in result["index"]["units"].items():
        out.append({
            "code": f"{year}-{INDEX_ID}-{code}", "run": run_id, "year": year, "id": INDEX_ID,
            "name": "城市体检指数", "name_en": "City health index", "dimension": "index",
            "unit": "分", "direction": "up", "unit_kind": "city" if code == CITY else "district",
            "unit_code": code, "unit_name": names.get(code), "value": u["value"],
            "target": None,
            "status": "no_data" if u["value"] is None else "no_target", "score": None,
            "previous_year": result["previous_year"] if u["previous_value"] is not None
            else None,
            "previous_value": u["previous_value"], "change": u["change"], "trend": u["trend"],
            "method": None, "flags": ["boundary_changed"] if u.get("boundary_changed") else [],
            "detail": json.dumps({"dimensions": u["dimensions"]}, ensure_ascii=False)})
    return out


def write_year(conninfo: str, result: dict[str, Any]) -> int:
    """Store ``result`` as its year's current results, in one transaction; the run's id."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        # one writer per year at a time: a second run of the year waits for the first
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('cim.health'), %s)",
                     (result["year"],))
        run_id = conn.execute(
            "INSERT INTO health_runs (year, params, summary) VALUES (%s, %s, %s) RETURNING id",
            (result["year"], json.dumps({"catalog": result["catalog"]}, ensure_ascii=False),
             json.dumps({"index": result["index"]["units"].get(CITY, {}).get("value"),
                         "indicators": len(result["indicators"])}))).fetchone()[0]
        conn.execute("UPDATE health_indicators SET valid_to = now() WHERE year = %s "
                     "AND valid_to IS NULL", (result["year"],))
        with conn.cursor() as cur:
            cur.executemany(_INSERT, _rows(result, run_id))
        if _compared_with_other(conn, result):
            # the previous year changed since the run read it (stored, recomputed or deleted
            # by another run meanwhile, whose comparison of the next year found this year's
            # old rows or none): this year's rows compared with the one stored now. The
            # rows written above never were current outside this transaction: replaced
            ids = [r[0] for r in conn.execute(
                "UPDATE health_indicators SET valid_to = now() WHERE run_id = %s"
                " RETURNING id", (run_id,)).fetchall()]
            before = conn.execute("SELECT max(year) FROM health_indicators WHERE"
                                  " valid_to IS NULL AND year < %s",
                                  (result["year"],)).fetchone()[0]
            conn.execute(_COMPARE, {"index": INDEX_ID, "year": before, "ids": ids})
            conn.execute("DELETE FROM health_indicators WHERE id = ANY(%s)", (ids,))
        _compare_next_year(conn, result["year"], result["year"])
    return run_id


def _compared_with_other(conn: psycopg.Connection, result: dict[str, Any]) -> bool:
    """``result`` was compared with another previous year, or other values of it, than the
    ones stored now (for the indicators and units it has)."""
    units = [(ind["id"], e) for ind in result["indicators"]
             for e in [ind["city"], *ind["districts"]]]
    units += [(INDEX_ID, {"unit_code": code, **u}) for code, u in
              result["index"]["units"].items()]
    year, now = previous_values(conn, result["year"])
    if year != result["previous_year"]:
        return True
    return any(now.get((i, e["unit_code"])) != e["previous_value"] for i, e in units)


# the comparison columns of a stored year's rows against the year before it (``p``), as
# compute.py's _entry and the index write them: change rounded to 6 places (the index 3),
# trend by the direction, boundary_changed when the two rows' polygons differ
_COMPARE = (
    "INSERT INTO health_indicators (code, run_id, year, indicator_id, name, name_en, dimension,"
    " unit, direction, unit_kind, unit_code, unit_name, value, target, status, score,"
    " previous_year, previous_value, change, trend, method, flags, detail, geom)"
    " SELECT o.code, o.run_id, o.year, o.indicator_id, o.name, o.name_en, o.dimension, o.unit,"
    " o.direction, o.unit_kind, o.unit_code, o.unit_name, o.value, o.target, o.status, o.score,"
    " CASE WHEN p.value IS NOT NULL THEN p.year END, p.value,"
    " CASE WHEN o.value IS NOT NULL AND p.value IS NOT NULL THEN round((o.value - p.value)"
    "   ::numeric, CASE WHEN o.indicator_id = %(index)s THEN 3 ELSE 6 END)::float8 END,"
    " CASE WHEN o.value IS NULL OR p.value IS NULL THEN NULL"
    "   WHEN (o.value - p.value) * CASE WHEN o.direction = 'down' THEN -1 ELSE 1 END > 1e-9"
    "   THEN 'improved'"
    "   WHEN (o.value - p.value) * CASE WHEN o.direction = 'down' THEN -1 ELSE 1 END < -1e-9"
    "   THEN 'worsened' ELSE 'unchanged' END,"
    " o.method,"
    " ARRAY(SELECT f FROM (SELECT f FROM unnest(o.flags) f WHERE f <> 'boundary_changed'"
    "   UNION SELECT 'boundary_changed' WHERE p.value IS NOT NULL AND o.geom IS NOT NULL"
    "   AND p.geom IS NOT NULL AND ST_Area(ST_SymDifference(o.geom, p.geom)) > 0.01) q(f)"
    "   ORDER BY f COLLATE \"C\"),"
    " o.detail, o.geom"
    " FROM health_indicators o LEFT JOIN health_indicators p ON p.valid_to IS NULL"
    " AND p.year = %(year)s AND p.indicator_id = o.indicator_id AND p.unit_code = o.unit_code"
    " WHERE o.id = ANY(%(ids)s)")


def _compare_next_year(conn: psycopg.Connection, year: int, previous: int | None) -> None:
    """The stored year after ``year`` compared anew with ``previous`` (``year``, whose rows
    were just written; after ``year`` is deleted, the stored year before it, or
    ``None``: nothing to compare with).

    Its comparison was written when it was computed, with the year before it then stored: a
    year computed afterwards — a past year filled in, a year recomputed on corrected data —
    or deleted left the later year's stored change and trend (served, mapped) comparing with
    nothing or with values no longer current. Its rows are versioned as a recompute's are
    (the old ones retired), only the comparison columns new."""
    locked: set[int] = set()
    while True:
        later = conn.execute("SELECT min(year) FROM health_indicators WHERE valid_to IS NULL"
                             " AND year > %s", (year,)).fetchone()[0]
        if later is None or later in locked:
            break
        # years in increasing order, so two runs never wait on each other; read again once
        # held: the year found may have been deleted while this run waited for it (its rows
        # retired, the stored year after it then the one to compare), which left that year
        # comparing with what it was compared with before this run
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('cim.health'), %s)", (later,))
        locked.add(later)
    if later is None:
        return
    ids = [r[0] for r in conn.execute(
        "UPDATE health_indicators SET valid_to = now() WHERE valid_to IS NULL AND year = %s"
        " RETURNING id", (later,)).fetchall()]
    conn.execute(_COMPARE, {"index": INDEX_ID, "year": previous,
                            "ids": ids})


def delete_year(conninfo: str, year: int) -> int:
    """Retire ``year``'s current results (``valid_to`` set: no longer served, mapped or
    compared with; still readable as a replaced year's are) and compare the next stored year
    anew with the one before ``year``; the number of rows retired (0: ``year`` not stored).

    A year stored by mistake (a typo, 2062) was the map's latest year and the later years'
    previous one for good: nothing removed a stored year."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('cim.health'), %s)", (year,))
        n = conn.execute("UPDATE health_indicators SET valid_to = now() WHERE year = %s"
                         " AND valid_to IS NULL", (year,)).rowcount
        if n:
            before = conn.execute("SELECT max(year) FROM health_indicators WHERE"
                                  " valid_to IS NULL AND year < %s", (year,)).fetchone()[0]
            _compare_next_year(conn, year, before)
    return n
