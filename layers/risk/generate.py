"""Risk candidates: what the rules find in the layers, and the manual points, in one temporary
table ``_risk_cand`` of the assessment's transaction.

Each rule kind is a SELECT over its layer's current features (the rule's ``where`` bound as
values, column names only from the layer declarations); the candidate keeps the asset's
attributes (``props``) so likelihood is scored in Python (:mod:`layers.risk.score`) where it
can be explained. A rule candidate's source key is ``rule:<type>:<asset code>``: the same risk
on the same asset keeps its code across assessments (the one allocator's registry).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from cim.coding import places
from cim.layerdefs import LAYERS
from layers.risk.config import RiskConfig, Rule

# codes and source keys byte by byte, as the layers keep them (migration 0010): in another
# collation than risk_points.code a join could use neither table's index, and retiring the
# points no rule finds read the whole candidate table once per point (50 s for 2,790)
CAND_COLUMNS = (
    'source_key text COLLATE "C" PRIMARY KEY, source text NOT NULL, rule_id text, '
    'risk_type_code text, asset_layer text, asset_code text COLLATE "C", props jsonb, '
    "responsible_unit text, likelihood int, lfactors jsonb, cfactors jsonb, consequence int, "
    "level text, color text, description text, geom geometry, ageom geometry, "
    "district_code text, grid_code text, measure text, measure_unit text, deadline date, "
    'measure_status text, code text COLLATE "C", row_hash text, buildings int, '
    "residents float8, facilities text[], road_classes text[], "
    "unchanged boolean NOT NULL DEFAULT false")

# a representative point of the asset: mid-length of a line, else a point on its surface
_POINT = places.asset_point_sql("t.geom")


def create_candidates(conn: psycopg.Connection) -> None:
    conn.execute("DROP TABLE IF EXISTS _risk_cand")
    conn.execute(f"CREATE TEMP TABLE _risk_cand ({CAND_COLUMNS}) ON COMMIT DROP")


def table_exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def _where(rule: Rule) -> tuple[sql.Composable, dict[str, Any]]:
    parts, params = [sql.SQL("t.valid_to IS NULL")], {}
    for i, (col, vals) in enumerate(rule.where.items()):
        parts.append(sql.SQL("t.{}::text = ANY(%(w{})s)").format(sql.Identifier(col),
                                                                 sql.SQL(str(i))))
        params[f"w{i}"] = vals
    return sql.SQL(" AND ").join(parts), params


def _owner(rule: Rule) -> sql.Composable:
    fields = [sql.SQL("NULLIF(btrim(t.{}::text), '')").format(sql.Identifier(f))
              for f in rule.owner_fields]
    return sql.SQL("COALESCE({})").format(sql.SQL(", ").join([*fields, sql.SQL("%(unit)s")]))


_INSERT = """
INSERT INTO _risk_cand (source_key, source, rule_id, risk_type_code, asset_layer, asset_code,
                        props, responsible_unit, measure, geom, ageom, district_code, grid_code)
SELECT 'rule:' || %(type)s || ':' || t.code, 'rule', %(rule)s, %(type)s, %(layer)s, t.code,
       to_jsonb(t) - 'geom' - 'attrs' {extra_props}, {owner}, %(measure)s, {point},
       ST_Force2D(t.geom), t.district_code, t.grid_code
FROM {table} t {join} WHERE {where} {extra}
ON CONFLICT (source_key) DO NOTHING"""

_LOW_POINTS = """
WITH low AS (
    SELECT t.*, s.med FROM pipe_points t CROSS JOIN LATERAL (
        SELECT percentile_cont(%(pct)s) WITHIN GROUP (ORDER BY q.ground_elevation) AS pct,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY q.ground_elevation) AS med
        FROM pipe_points q WHERE q.valid_to IS NULL AND q.ground_elevation IS NOT NULL
        AND ST_DWithin(q.geom, t.geom, %(radius)s)) s
    WHERE {where} AND t.ground_elevation IS NOT NULL
      AND ((%(threshold)s::float8 IS NOT NULL AND t.ground_elevation < %(threshold)s::float8)
           OR (t.ground_elevation <= s.pct AND s.med - t.ground_elevation >= %(drop)s))),
clustered AS (
    SELECT low.*, ST_ClusterDBSCAN(ST_Force2D(low.geom), eps := %(cluster)s, minpoints := 1)
           OVER () AS cid FROM low)
SELECT DISTINCT ON (cid) * FROM clustered ORDER BY cid, ground_elevation, code"""


def _rule_sql(rule: Rule) -> tuple[sql.Composable, dict[str, Any]]:
    where, params = _where(rule)
    params.update({"type": rule.type, "rule": rule.id, "layer": rule.layer,
                   "unit": rule.default_unit, "measure": rule.measure})
    table, join, extra, extra_props = (sql.Identifier(LAYERS[rule.layer].table), sql.SQL(""),
                                       sql.SQL(""), sql.SQL(""))
    if rule.kind == "reverse_slope":
        extra = sql.SQL("AND t.end_elevation > t.start_elevation + %(tol)s")
        params["tol"] = float(rule.params.get("tolerance_m", 0))
        extra_props = sql.SQL("|| jsonb_build_object('rise_m', "
                              "round((t.end_elevation - t.start_elevation)::numeric, 3))")
    elif rule.kind == "near":
        extra = sql.SQL("AND EXISTS (SELECT 1 FROM {n} n WHERE n.valid_to IS NULL AND "
                        "ST_DWithin(n.geom, t.geom, %(dist)s))").format(
            n=sql.Identifier(LAYERS[rule.params["near_layer"]].table))
        params["dist"] = float(rule.params["distance_m"])
    elif rule.kind == "low_point":
        table = sql.SQL("({}) ").format(sql.SQL(_LOW_POINTS).format(where=where))
        where = sql.SQL("TRUE")
        params.update({"pct": float(rule.params["percentile"]),
                       "radius": float(rule.params["radius_m"]),
                       "drop": float(rule.params["min_drop_m"]),
                       "cluster": float(rule.params["cluster_m"]),
                       "threshold": rule.params.get("threshold_m")})
        extra_props = sql.SQL("|| jsonb_build_object('local_median_m', "
                              "round(t.med::numeric, 3))")
    q = sql.SQL(_INSERT).format(extra_props=extra_props, owner=_owner(rule),
                                point=sql.SQL(_POINT), table=table, join=join, where=where,
                                extra=extra)
    return q, params


def add_rule_candidates(conn: psycopg.Connection, cfg: RiskConfig) -> dict[str, int]:
    """Run every rule whose layer exists; candidates per rule id (a missing layer: -1)."""
    found = {}
    for rule in cfg.rules:
        if not table_exists(conn, LAYERS[rule.layer].table) or (
                rule.kind == "near" and not table_exists(
                    conn, LAYERS[rule.params["near_layer"]].table)):
            found[rule.id] = -1
            continue
        q, params = _rule_sql(rule)
        found[rule.id] = conn.execute(q, params).rowcount
    return found


# what a rule kind needs of a feature to judge it: a drain without both invert elevations
# cannot be found reversed, a pipe point without its ground elevation cannot be found low
_NEEDS = {"reverse_slope": ("start_elevation", "end_elevation"),
          "low_point": ("ground_elevation",)}


def unjudged(conn: psycopg.Connection, cfg: RiskConfig) -> dict[str, int]:
    """Per rule id, the features its ``where`` selects that it cannot judge for want of an
    elevation: they are no risk point, and not because they were found safe."""
    out = {}
    for rule in cfg.rules:
        cols = _NEEDS.get(rule.kind)
        if not cols or not table_exists(conn, LAYERS[rule.layer].table):
            continue
        where, params = _where(rule)
        missing = sql.SQL(" OR ").join(sql.SQL("t.{} IS NULL").format(sql.Identifier(c))
                                       for c in cols)
        n = conn.execute(sql.SQL("SELECT count(*) FROM {} t WHERE {} AND ({})").format(
            sql.Identifier(LAYERS[rule.layer].table), where, missing), params).fetchone()[0]
        if n:
            out[rule.id] = n
    return out


def add_manual_candidates(conn: psycopg.Connection) -> int:
    """The current manual points, kept as they are (code, likelihood, measure); only their
    consequence is recomputed."""
    n = conn.execute(
        "INSERT INTO _risk_cand (source_key, source, rule_id, risk_type_code, asset_layer, "
        "asset_code, props, responsible_unit, likelihood, lfactors, description, geom, ageom, "
        "district_code, grid_code, measure, measure_unit, deadline, measure_status, code) "
        "SELECT source_key, 'manual', NULL, risk_type_code, asset_layer, asset_code, '{}', "
        "responsible_unit, likelihood, coalesce(attrs->'likelihood', '{}'), description, geom, "
        "geom, district_code, grid_code, measure, measure_unit, deadline, measure_status, code "
        "FROM risk_points WHERE valid_to IS NULL AND source = 'manual'").rowcount
    asset_geometries(conn)
    return n


def drop_rules_covered_by_hand(conn: psycopg.Connection) -> dict[str, int]:
    """Rule candidates whose risk (type and asset) is a current point added by hand already;
    per rule id. The point by hand is that risk's one point (its code, likelihood and measure
    as people set them): a rule that came to find the asset later made a second point of the
    same risk on it, each with its own deadline and history."""
    out: dict[str, int] = {}
    for (rid,) in conn.execute(
            "DELETE FROM _risk_cand r USING _risk_cand m WHERE r.source = 'rule' AND "
            "m.source = 'manual' AND m.asset_code = r.asset_code AND "
            "m.risk_type_code = r.risk_type_code RETURNING r.rule_id").fetchall():
        out[rid] = out.get(rid, 0) + 1
    return out


def asset_geometries(conn: psycopg.Connection) -> None:
    """A manual point on an asset is exposed as the asset is (the whole pipe, the site)."""
    layers = [r[0] for r in conn.execute(
        "SELECT DISTINCT asset_layer FROM _risk_cand WHERE source = 'manual' "
        "AND asset_layer IS NOT NULL")]
    for name in layers:
        if name in LAYERS and table_exists(conn, LAYERS[name].table):
            conn.execute(sql.SQL(
                "UPDATE _risk_cand c SET ageom = ST_Force2D(t.geom) FROM {} t WHERE "
                "c.source = 'manual' AND c.asset_layer = %s AND t.code = c.asset_code AND "
                "t.valid_to IS NULL").format(sql.Identifier(LAYERS[name].table)), (name,))


def place_candidates(conn: psycopg.Connection) -> None:
    """District and grid cell of each point (the one holding it), else the asset's."""
    conn.execute(
        "UPDATE _risk_cand c SET district_code = coalesce("
        + places.district_sql("c.geom") + ", c.district_code)")
    conn.execute(
        "UPDATE _risk_cand c SET grid_code = coalesce("
        + places.grid_sql("c.geom", "c.district_code") + ", c.grid_code)")


def write_back(conn: psycopg.Connection, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Set ``columns`` of the candidates in ``rows`` (by source key), one statement."""
    if not rows:
        return
    types = {"likelihood": "int", "consequence": "int", "lfactors": "jsonb",
             "cfactors": "jsonb", "deadline": "date"}
    sets = sql.SQL(", ").join(sql.SQL("{c} = v.{c}").format(c=sql.Identifier(c))
                              for c in columns)
    arrays = sql.SQL(", ").join(
        sql.SQL("%s::{}[]").format(sql.SQL(types.get(c, "text"))) for c in ["source_key",
                                                                              *columns])
    names = sql.SQL(", ").join(map(sql.Identifier, ["source_key", *columns]))

    def val(c, r):
        v = r.get(c)
        return Jsonb(v) if c in ("lfactors", "cfactors") and v is not None else v

    params = [[r["source_key"] for r in rows]] + [[val(c, r) for r in rows] for c in columns]
    conn.execute(sql.SQL("UPDATE _risk_cand c SET {sets} FROM unnest({arrays}) AS v({names}) "
                         "WHERE c.source_key = v.source_key").format(
        sets=sets, arrays=arrays, names=names), params)
