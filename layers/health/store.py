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
from pathlib import Path
from typing import Any

import psycopg

from cim.text import json_value
from layers.health.compute import CITY, INDEX_ID, comparison

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


def moved_units(conn: psycopg.Connection, year: int | None, against: int | None = None
                ) -> set[str]:
    """The units (district codes, ``city``) whose polygon stored with ``year``'s results is
    not their polygon now — or, given ``against``, the one stored with that year's results —
    (more than 0.01 m² apart): the districts' boundaries changed in between, so a change
    against that year compares two different areas — flagged ``boundary_changed``, not read
    as a district improving or worsening."""
    if year is None:
        return set()
    now = ("(SELECT ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) FROM admin_divisions"
           " WHERE valid_to IS NULL AND (h.unit_code = 'city' OR code = h.unit_code))"
           if against is None else
           "(SELECT a.geom FROM health_indicators a WHERE a.valid_to IS NULL AND a.year ="
           " %(against)s AND a.indicator_id = %(index)s AND a.unit_code = h.unit_code)")
    return {r[0] for r in conn.execute(
        "SELECT h.unit_code FROM health_indicators h WHERE h.valid_to IS NULL"
        " AND h.year = %(year)s AND h.indicator_id = %(index)s AND h.geom IS NOT NULL"
        " AND coalesce(ST_Area(ST_SymDifference(h.geom, " + now + ")), 0) > 0.01",
        {"year": year, "against": against, "index": INDEX_ID})}


def scored_by_unit(conn: psycopg.Connection, year: int | None) -> dict[str, frozenset[str]]:
    """Per unit, the indicators with a score stored for ``year``: what its index averaged."""
    if year is None:
        return {}
    return {u: frozenset(ids) for u, ids in conn.execute(
        "SELECT unit_code, array_agg(indicator_id) FROM health_indicators WHERE valid_to IS NULL"
        " AND year = %s AND score IS NOT NULL AND indicator_id <> %s GROUP BY unit_code",
        (year, INDEX_ID)).fetchall()}


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
            "method": None, "flags": u["flags"],
            "detail": json.dumps({"dimensions": u["dimensions"]}, ensure_ascii=False)})
    return out


# what the report prints of an indicator that its rows do not keep (or keep only per row)
CATALOG_FIELDS = ("id", "name_zh", "name_en", "dimension", "unit", "direction", "target",
                  "computation", "source", "definition", "scale", "count")


def run_params(result: dict[str, Any]) -> dict[str, Any]:
    """``health_runs.params`` of ``result``'s run: its catalog file (resolved: a relative
    ``--indicators`` path named a file only from the directory it was typed in) and the
    catalog as it was used (``catalog_used``: the dimensions with their names and weights,
    each indicator's text, the index method). A stored year's report
    (:mod:`layers.health.stored`) reads them from here: the file is edited in place, so a
    definition, source or dimension name changed since was shown as today's text beside the
    values computed with the old one."""
    return {"catalog": str(Path(result["catalog"]).resolve()),
            "catalog_used": {
                "index_method": result["index"]["method"],
                "dimensions": [dict(d) for d in result["dimensions"]],
                "indicators": [{k: ind.get(k) for k in CATALOG_FIELDS}
                               for ind in result["indicators"]]}}


def write_year(conninfo: str, result: dict[str, Any]) -> int:
    """Store ``result`` as its year's current results, in one transaction; the run's id."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        # one writer per year at a time: a second run of the year waits for the first
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('cim.health'), %s)",
                     (result["year"],))
        run_id = conn.execute(
            "INSERT INTO health_runs (year, params, summary) VALUES (%s, %s, %s) RETURNING id",
            (result["year"], json.dumps(run_params(result), ensure_ascii=False,
                                        default=json_value),
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
            # rows written above never were current outside this transaction: updated
            before = conn.execute("SELECT max(year) FROM health_indicators WHERE"
                                  " valid_to IS NULL AND year < %s",
                                  (result["year"],)).fetchone()[0]
            _compare_anew(conn, result["year"], before, in_place=True)
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


# a stored year's rows with what they are compared by: the value and direction, the stored
# comparison columns and the previous year's value of the same indicator and unit
_STORED = (
    "SELECT o.id, o.indicator_id, o.unit_code, o.value, o.direction, o.previous_year,"
    " o.previous_value, o.change, o.trend, o.flags, p.value"
    " FROM health_indicators o LEFT JOIN health_indicators p ON p.valid_to IS NULL"
    " AND p.year = %(previous)s AND p.indicator_id = o.indicator_id"
    " AND p.unit_code = o.unit_code"
    " WHERE o.valid_to IS NULL AND o.year = %(year)s")
_COLUMNS = ("previous_year", "previous_value", "change", "trend", "flags")
# a new version of a row: its own columns, the comparison columns given
_VERSION = (
    "INSERT INTO health_indicators (code, run_id, year, indicator_id, name, name_en, dimension,"
    " unit, direction, unit_kind, unit_code, unit_name, value, target, status, score,"
    " previous_year, previous_value, change, trend, method, flags, detail, geom)"
    " SELECT code, run_id, year, indicator_id, name, name_en, dimension, unit, direction,"
    " unit_kind, unit_code, unit_name, value, target, status, score, %(previous_year)s::int,"
    " %(previous_value)s::float8, %(change)s::float8, %(trend)s::text, method,"
    " %(flags)s::text[], detail, geom FROM health_indicators WHERE id = %(id)s")


def _compare_anew(conn: psycopg.Connection, year: int, previous: int | None,
                  in_place: bool = False) -> int:
    """``year``'s stored rows compared with ``previous``'s (``None``: with nothing) by
    :func:`layers.health.compute.comparison`, the rule its computation compared them by; the
    number of rows whose comparison changed.

    Only those get a new version (the old one retired): a year stored again unchanged, or a
    change of one indicator, re-versioned every row of the next year and moved its ETags.
    ``in_place``: rows of this transaction, never current outside it, updated as they are."""
    moved = moved_units(conn, previous, year)
    basis, prev_basis = scored_by_unit(conn, year), scored_by_unit(conn, previous)
    changed = []
    for (id_, ind, unit, value, direction, *stored, flags, pv) in conn.execute(
            _STORED, {"year": year, "previous": previous}).fetchall():
        other = ind == INDEX_ID and basis.get(unit, frozenset()) != prev_basis.get(
            unit, frozenset())
        c = comparison(ind, value, pv, direction, unit in moved, flags, other)
        new = {"previous_year": previous if pv is not None else None, **c}
        if tuple(new[k] for k in _COLUMNS) != (*stored, list(flags)):
            changed.append({"id": id_, **new})
    if not changed:
        return 0
    with conn.cursor() as cur:
        if in_place:
            cur.executemany(
                "UPDATE health_indicators SET " + ", ".join(f"{k} = %({k})s" for k in _COLUMNS)
                + " WHERE id = %(id)s", changed)
        else:
            cur.execute("UPDATE health_indicators SET valid_to = now() WHERE id = ANY(%s)",
                        ([r["id"] for r in changed],))
            cur.executemany(_VERSION, changed)
    return len(changed)


def _compare_next_year(conn: psycopg.Connection, year: int, previous: int | None) -> None:
    """The stored year after ``year`` compared anew with ``previous`` (``year``, whose rows
    were just written; after ``year`` is deleted, the stored year before it, or
    ``None``: nothing to compare with).

    Its comparison was written when it was computed, with the year before it then stored: a
    year computed afterwards — a past year filled in, a year recomputed on corrected data —
    or deleted left the later year's stored change and trend (served, mapped) comparing with
    nothing or with values no longer current. A row whose comparison changes is versioned as
    a recompute's are (the old one retired), only the comparison columns new."""
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
    if later is not None:
        _compare_anew(conn, later, previous)


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
