"""A stored health check read back: the years kept and a year's result as it was computed.

City-operations staff file a year's report as it was; recomputing it (``cim health compute
--year Y --report``) redoes it on today's features and replaces the stored year. This module
only reads: the current rows of ``health_indicators`` (``valid_to IS NULL``) rebuilt into the
result :func:`layers.health.compute.compute` returns, so the one renderer
(:func:`layers.health.report.render_html`) draws both.

What the rows do not keep — each indicator's definition, source, computation, whether it
counts, the dimensions' names and weights, the index method — is the catalog as the run used
it (``health_runs.params.catalog_used``, written with the year by
:func:`layers.health.store.run_params`): the catalog file is edited in place, so today's text
beside a past year's values was not what they were computed with. A run stored before
``catalog_used`` was kept falls back to its file (``params.catalog``) if it is still there,
else the profile's: then a weight is shown only if the catalog's weights give the stored
index of every unit again; otherwise it was edited since and the report says so instead of
printing a weight the index was not computed with.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import psycopg
import shapely

from cim.profile import CityProfile
from layers.health.catalog import HealthCatalog, load_catalog
from layers.health.compute import CITY, INDEX_ID, INDEX_METHOD, health_index
from layers.health.templates import COUNT_TEMPLATES

_ENTRY = ("unit_kind", "unit_code", "unit_name", "value", "target", "status", "score",
          "previous_value", "change", "trend", "method", "flags", "detail")
# a year's current rows in the order the computation wrote them: a row versioned since (its
# comparison renewed) keeps its place, the first id of its code in its run
_ROWS = (
    "SELECT h.indicator_id, h.name, h.name_en, h.dimension, h.unit, h.direction,"
    " h.unit_kind, h.unit_code, h.unit_name, h.value, h.target, h.status, h.score,"
    " h.previous_value, h.change, h.trend, h.method, h.flags, h.detail,"
    " ST_AsBinary(h.geom), h.run_id"
    " FROM health_indicators h JOIN (SELECT code, run_id, min(id) AS first"
    "   FROM health_indicators WHERE year = %(year)s GROUP BY code, run_id) f"
    "   ON f.code = h.code AND f.run_id = h.run_id"
    " WHERE h.valid_to IS NULL AND h.year = %(year)s ORDER BY f.first, h.id")


def stored_years(conninfo: str) -> list[dict[str, Any]]:
    """Each stored year (current rows), oldest first: when its run computed it
    (``computed_at``, ``health_runs``) and when its rows were last versioned
    (``versioned_at``: later when its comparison was renewed because an earlier year was
    stored or deleted), the city index with its comparison, and how many indicators have a
    city value of how many."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT h.year, max(r.computed_at), max(h.valid_from),"
            " count(*) FILTER (WHERE h.indicator_id <> %(index)s AND h.unit_kind = 'city'"
            "   AND h.value IS NOT NULL),"
            " count(*) FILTER (WHERE h.indicator_id <> %(index)s AND h.unit_kind = 'city'),"
            " count(DISTINCT h.unit_code) FILTER (WHERE h.unit_kind = 'district'),"
            " array_agg(DISTINCT h.run_id)"
            " FROM health_indicators h JOIN health_runs r ON r.id = h.run_id"
            " WHERE h.valid_to IS NULL GROUP BY h.year ORDER BY h.year",
            {"index": INDEX_ID}).fetchall()
        index = {r[0]: r[1:] for r in conn.execute(
            "SELECT year, value, previous_year, previous_value, change, trend, flags"
            " FROM health_indicators WHERE valid_to IS NULL AND indicator_id = %s"
            " AND unit_code = %s", (INDEX_ID, CITY)).fetchall()}
    out = []
    for year, computed, versioned, with_data, n, districts, runs in rows:
        value, py, pv, change, trend, flags = index.get(year, (None,) * 5 + ([],))
        out.append({"year": year, "computed_at": computed, "versioned_at": versioned,
                    "run_ids": sorted(runs), "index": value, "previous_year": py,
                    "previous_value": pv, "change": change, "trend": trend,
                    "flags": list(flags or []), "indicators_with_data": with_data,
                    "indicators": n, "districts": districts})
    return out


def _run_params(conn: psycopg.Connection, run_ids: set[int]) -> dict[str, Any]:
    """The params of the year's run (its rows are of one run; several, versioned since by
    another one, only if they agree), else ``{}``."""
    params = {json.dumps(r[0] or {}, sort_keys=True, ensure_ascii=False) for r in conn.execute(
        "SELECT params FROM health_runs WHERE id = ANY(%s)", (sorted(run_ids),)).fetchall()}
    return json.loads(params.pop()) if len(params) == 1 else {}


def _catalog(params: dict[str, Any], profile: CityProfile | None) -> HealthCatalog:
    """A run stored without its catalog as used (before ``catalog_used``): the file it read
    if it is still there, else the profile's — today's text."""
    path = Path(params["catalog"]) if params.get("catalog") else None
    return load_catalog(profile, path if path is not None and path.is_file() else None)


def stored_result(conninfo: str, year: int, profile: CityProfile | None = None
                  ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(result, shapes) of ``year`` as stored: the result in the shape
    :func:`layers.health.compute.compute` returns it, the district polygons its rows were
    computed on (by code, for the maps); ``None``: the year is not stored. Nothing is
    computed or written."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(_ROWS, {"year": year}).fetchall()
        if not rows:
            return None
        params = _run_params(conn, {r[-1] for r in rows})
        previous_year = conn.execute(
            "SELECT max(year) FROM health_indicators WHERE valid_to IS NULL AND year < %s",
            (year,)).fetchone()[0]
        run_id = max(r[-1] for r in rows)
    used = params.get("catalog_used")
    cat = None if used else _catalog(params, profile)
    known = ({i["id"]: i for i in used["indicators"]} if used else
             {i.id: {"computation": i.template, "source": i.source, "scale": i.scale,
                     "definition": i.definition, "count": i.template in COUNT_TEMPLATES}
              for i in cat.indicators})
    from layers.health.service_coverage import facility_types

    order = {t.get("type_code"): i for i, t in enumerate(facility_types(profile))}
    indicators: dict[str, dict[str, Any]] = {}
    units: dict[str, dict[str, Any]] = {}
    shapes: dict[str, Any] = {}
    for (ind_id, name, name_en, dim, unit, direction, *cols, geom, _run) in rows:
        e = dict(zip(_ENTRY, cols, strict=True))
        e["flags"] = list(e["flags"] or [])
        e["detail"] = _detail(e["detail"], order)
        if ind_id == INDEX_ID:
            units[e["unit_code"]] = {
                "value": e["value"], "dimensions": e["detail"].get("dimensions") or {},
                "previous_value": e["previous_value"], "change": e["change"],
                "trend": e["trend"], "flags": e["flags"],
                "boundary_changed": "boundary_changed" in e["flags"],
                "indicators_changed": "indicators_changed" in e["flags"]}
            if e["unit_kind"] == "district" and geom is not None:
                shapes[e["unit_code"]] = shapely.from_wkb(bytes(geom))
            continue
        c = known.get(ind_id) or {}
        ind = indicators.setdefault(ind_id, {
            "id": ind_id, "name_zh": name, "name_en": name_en, "dimension": dim,
            "unit": unit, "direction": direction, "target": None,
            "computation": c.get("computation"), "source": c.get("source") or "",
            "scale": c.get("scale"), "definition": c.get("definition") or "",
            "count": bool(c.get("count")), "city": None, "districts": []})
        if e["unit_kind"] == CITY:
            ind["city"], ind["target"] = e, e["target"]
        else:
            ind["districts"].append(e)
    inds = [i for i in indicators.values() if i["city"] is not None]
    if used:  # the catalog as the run used it: its weights gave the stored index
        dimensions, weights_hold = [dict(d) for d in used["dimensions"]], True
    else:
        dimensions, weights_hold = _today_dimensions(cat, inds, units)
    result = {"year": year, "previous_year": previous_year,
              "catalog": params.get("catalog") if used else str(cat.path),
              "dimensions": dimensions,
              "index": {"method": used.get("index_method", INDEX_METHOD) if used
                        else INDEX_METHOD,
                        "weights": {d["id"]: d["weight"] for d in dimensions},
                        "units": units},
              "indicators": inds, "run_id": run_id, "stored": True,
              "weights_changed": not weights_hold}
    return result, shapes


def _today_dimensions(cat: HealthCatalog, inds: list[dict[str, Any]],
                      units: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """(dimensions, weights hold) from today's catalog for a run stored without its own: a
    weight is given only if today's weights give the stored index of every unit again."""
    dim_ids = list(dict.fromkeys(
        [d.id for d in cat.dimensions]
        + [i["dimension"] for i in inds]
        + [k for u in units.values() for k in u["dimensions"]]))
    used = {i["dimension"] for i in inds} | {k for u in units.values() for k in u["dimensions"]}
    weights_hold = all(
        health_index(cat, inds, code)[0] == _round(u["value"]) for code, u in units.items()
    ) if {d.id for d in cat.dimensions} >= used else False
    cat_dims = {d.id: d for d in cat.dimensions}
    return [{"id": d, "name_zh": cat_dims[d].name_zh if d in cat_dims else d,
             "name_en": cat_dims[d].name_en if d in cat_dims else "",
             "weight": cat_dims[d].weight if weights_hold and d in cat_dims else None}
            for d in dim_ids if d in used], weights_hold


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _detail(detail: Any, order: dict[str, int]) -> dict[str, Any]:
    """A row's detail as the computation gave it: jsonb keeps no key order, so a
    mean-of-types value's types (社区服务设施步行覆盖率) are put back in the facility
    types' order (the report's table rows)."""
    if isinstance(detail, str):
        detail = json.loads(detail)
    detail = dict(detail or {})
    types = detail.get("types")
    if isinstance(types, dict):
        detail["types"] = dict(sorted(types.items(), key=lambda kv: order.get(kv[0], 1e9)))
    return detail


def on_clock(t: dt.datetime | None, zone: str) -> str:
    """A stored time as the city reads it (its clock, with the offset), then in UTC as
    ``--json`` writes it, as ``cim cases`` shows times; '-' for none."""
    from cim.cityclock import on_city_clock

    if t is None:
        return "-"
    local = on_city_clock(t, zone)
    text = local.isoformat(timespec="seconds")
    if local.utcoffset():
        text += f" ({t.astimezone(dt.UTC).isoformat(timespec='seconds')})"
    return text
