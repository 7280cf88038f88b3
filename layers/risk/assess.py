"""``cim risk assess``: regenerate the rule points, regrade every point, record the run.

One transaction: the candidates (:mod:`layers.risk.generate`) are scored and graded
(:mod:`layers.risk.grade`), coded by the one allocator (``cim.coding.allocator``: a rule point
for the same type and asset gets its code back), then merged into ``risk_points`` as versions:
an unchanged point stays as it is (its ``attrs`` take this assessment's likelihood and
consequence factors, which make no version), a changed one is retired and its new version inserted under
the same code (keeping the raise of an alarm still active on it), a rule point no rule finds
any more is retired; manual points are never retired here (one on an asset its type is no
longer on is named: ``misplaced_manual`` and a note). Every graded point gets a row in ``risk_assessments`` (its level history).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg.rows import dict_row

from cim.coding.allocator import allocate_codes
from cim.coding.scheme import FEATURE_SERIAL_WIDTH
from cim.errors import DatabaseError
from cim.layerdefs import LAYERS
from layers.risk import generate, grade
from layers.risk.alarm import FLAG as ALARM_FLAG
from layers.risk.alarm import lock_points, lock_writers, raise_unraised
from layers.risk.config import LEVELS, RiskConfig

LAYER = LAYERS["risk_points"]
MISPLACED_NAMED = 20  # manual points on an asset their type is not on, named in a note

# what makes a version: a change in any of these gives the point a new version
_CONTENT = ("risk_type_code, asset_layer, asset_code, description, responsible_unit, "
            "likelihood, consequence, level, color, measure, measure_unit, deadline, "
            "measure_status, source, rule_id, district_code, grid_code")


def _types(conn: psycopg.Connection, cfg: RiskConfig) -> None:
    unknown = [r[0] for r in conn.execute(
        "SELECT DISTINCT risk_type_code FROM _risk_cand WHERE NOT risk_type_code = ANY(%s)",
        (list(cfg.types),))]
    if unknown:
        raise DatabaseError(f"risk points of types not in risk_types.csv: {', '.join(unknown)}")


def code_candidates(conn: psycopg.Connection, cfg: RiskConfig) -> int:
    """Codes for the candidates (prefix district + 91 + domain); candidates in no district
    are dropped (counted)."""
    _types(conn, cfg)
    outside = conn.execute("DELETE FROM _risk_cand WHERE district_code IS NULL").rowcount
    conn.execute("DROP TABLE IF EXISTS _risk_stg")
    conn.execute('CREATE TEMP TABLE _risk_stg (row_no bigint, source_key text COLLATE "C", '
                 'prefix text, code text COLLATE "C") ON COMMIT DROP')
    domains = {t.code: t.domain_code for t in cfg.types.values()}
    conn.execute(
        "INSERT INTO _risk_stg SELECT row_number() OVER (ORDER BY source_key), source_key, "
        "district_code || %s || d.domain, code FROM _risk_cand c JOIN unnest(%s::text[], "
        "%s::text[]) AS d(type, domain) ON d.type = c.risk_type_code",
        (LAYER.layer_code, list(domains), list(domains.values())))
    # temporary tables have no statistics until analysed: the planner took them for empty
    # (or for 300,000 rows) and joined them row by row — the registry look-up of 18,600
    # points' codes took 23 s, retiring the points no rule finds 32 s for 2,790 (quadratic)
    conn.execute("ANALYZE _risk_stg")
    allocate_codes(conn, "_risk_stg", LAYER.name, FEATURE_SERIAL_WIDTH, None)
    conn.execute("UPDATE _risk_cand c SET code = s.code FROM _risk_stg s "
                 "WHERE s.source_key = c.source_key")
    conn.execute("CREATE INDEX ON _risk_cand (code)")
    conn.execute("ANALYZE _risk_cand")
    return outside


def merge(conn: psycopg.Connection, cfg: RiskConfig, retire_missing: bool) -> dict[str, int]:
    """Candidates → ``risk_points`` versions; counts of inserted / updated / unchanged /
    retired."""
    # a point's measure is the rule's default only when the point is new: once it exists,
    # its measure and unit are what people set (``cim risk measure``)
    conn.execute("UPDATE _risk_cand c SET measure = r.measure, measure_unit = r.measure_unit "
                 "FROM risk_points r WHERE r.valid_to IS NULL AND r.source_key = c.source_key "
                 "AND c.source = 'rule'")
    conn.execute("UPDATE _risk_cand SET measure_unit = coalesce(measure_unit, "
                 "responsible_unit)")
    conn.execute(f"UPDATE _risk_cand SET row_hash = md5(concat_ws('|', {_CONTENT}, "
                 "encode(ST_AsBinary(geom), 'hex')))")
    t = {"inserted": 0, "updated": 0, "unchanged": 0, "retired": 0}
    # marked once: after the changed ones are retired, these are the candidates' only
    # current points (the insert below does not look for them in the table it writes)
    t["unchanged"] = conn.execute(
        "UPDATE _risk_cand c SET unchanged = true FROM risk_points r WHERE r.valid_to IS NULL "
        "AND r.code = c.code AND r.row_hash = c.row_hash").rowcount
    # an unchanged point shows the factors of this assessment, not of the one that wrote
    # its version: a pipe a year older at the same likelihood kept last year's age (the
    # factors explain the grade; they make no new version, risk_assessments keeps each run's)
    conn.execute(
        "UPDATE risk_points r SET attrs = coalesce(r.attrs, '{}') || jsonb_build_object("
        "'likelihood', c.lfactors, 'consequence', c.cfactors) FROM _risk_cand c "
        "WHERE c.unchanged AND r.valid_to IS NULL AND r.code = c.code AND "
        "(r.attrs->'likelihood' IS DISTINCT FROM c.lfactors "
        "OR r.attrs->'consequence' IS DISTINCT FROM c.cfactors)")
    # the alarms raising a point that gets a new version (layers.risk.alarm: flags alarm:<code>)
    raised = conn.execute(
        "SELECT r.code, array_agg(f ORDER BY f) FROM risk_points r JOIN _risk_cand c ON "
        "c.code = r.code AND r.valid_to IS NULL AND r.row_hash IS DISTINCT FROM c.row_hash "
        "CROSS JOIN unnest(r.flags) AS f WHERE f LIKE %s GROUP BY r.code",
        (ALARM_FLAG + "%",)).fetchall()
    t["updated"] = conn.execute(
        "UPDATE risk_points r SET valid_to = now() FROM _risk_cand c WHERE r.valid_to IS NULL "
        "AND r.code = c.code AND r.row_hash IS DISTINCT FROM c.row_hash").rowcount
    if retire_missing:
        t["retired"] = conn.execute(
            "UPDATE risk_points r SET valid_to = now() WHERE r.valid_to IS NULL AND "
            "r.source = 'rule' AND NOT EXISTS (SELECT 1 FROM _risk_cand c "
            "WHERE c.code = r.code)").rowcount
    names = [t_.code for t_ in cfg.types.values()]
    inserted = conn.execute(
        "INSERT INTO risk_points (code, source_key, row_hash, attrs, geom, risk_type_code, "
        "risk_type, domain_code, domain, asset_layer, asset_code, description, "
        "responsible_unit, likelihood, consequence, level, color, measure, measure_unit, "
        "deadline, measure_status, source, rule_id, district_code, grid_code) "
        "SELECT c.code, c.source_key, c.row_hash, jsonb_build_object('likelihood', "
        "c.lfactors, 'consequence', c.cfactors), c.geom, c.risk_type_code, d.name, d.domain_code, "
        "d.domain, c.asset_layer, c.asset_code, c.description, c.responsible_unit, "
        "c.likelihood, c.consequence, c.level, c.color, c.measure, c.measure_unit, c.deadline, "
        "c.measure_status, c.source, c.rule_id, c.district_code, c.grid_code "
        "FROM _risk_cand c JOIN unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
        "AS d(code, name, domain_code, domain) ON d.code = c.risk_type_code "
        "WHERE NOT c.unchanged",
        (names, [cfg.types[n].name for n in names], [cfg.types[n].domain_code for n in names],
         [cfg.types[n].domain for n in names])).rowcount
    t["inserted"] = inserted - t["updated"]
    _keep_alarms(conn, cfg, raised)
    return t


def _keep_alarms(conn: psycopg.Connection, cfg: RiskConfig,
                 raised: list[tuple[str, list[str]]]) -> None:
    """A point's new version keeps the raise of the alarms still active on it: their flags,
    and the most severe of its own new level and theirs (each alarm's level as its last
    raise recorded it, ``risk_assessments`` source ``alarm``). The new version was written
    from its likelihood × consequence alone: an assessment during an alarm left the point at
    低 with no flag while a 一级 gas alarm was active."""
    for code, flags in raised:
        alarms = [f[len(ALARM_FLAG):] for f in flags]
        active = conn.execute(
            "SELECT DISTINCT ON (a.code) a.code, ra.factors->>'alarm_level' FROM alarms a "
            "JOIN risk_assessments ra ON ra.code = %s AND ra.source = 'alarm' AND "
            "ra.factors->>'alarm' = a.code AND ra.factors->>'action' = 'raise' "
            "WHERE a.code = ANY(%s) AND a.status = 'active' AND a.valid_to IS NULL "
            "ORDER BY a.code, ra.id DESC", (code, alarms)).fetchall()
        if not active:
            continue
        level = conn.execute("SELECT level FROM risk_points WHERE code = %s AND valid_to IS NULL",
                             (code,)).fetchone()[0]
        for _, lv in active:
            if lv in LEVELS and LEVELS.index(lv) < LEVELS.index(level):
                level = lv
        conn.execute("UPDATE risk_points SET level = %s, color = %s, flags = flags || %s::text[] "
                     "WHERE code = %s AND valid_to IS NULL",
                     (level, cfg.matrix.levels[level]["color"],
                      [ALARM_FLAG + a for a, _ in active], code))


def take_alarm_raises(conn: psycopg.Connection, cfg: RiskConfig
                      ) -> tuple[list[tuple[str, str]], list[str]]:
    """The alarms active on the assets of points just written raise them, as they would had
    they opened after them (:func:`layers.risk.alarm.raise_unraised`): a point added or first
    found during a 一级 gas alarm on its pipe was listed 低, and its alarm's clearing never
    reached it. (alarm, point) of each raise, and the alarms that say not what they raise."""
    if not generate.table_exists(conn, "alarms"):
        return [], []
    return raise_unraised(conn, cfg.matrix, cfg.timezone)


def record(conn: psycopg.Connection, year: int) -> int:
    """One ``risk_assessments`` row per graded point; the run's id."""
    run_id = conn.execute("SELECT nextval('risk_assessment_run_seq')").fetchone()[0]
    conn.execute(
        "INSERT INTO risk_assessments (run_id, year, code, risk_type_code, asset_code, source, "
        "likelihood, consequence, level, color, factors) SELECT %s, %s, code, risk_type_code, "
        "asset_code, source, likelihood, consequence, level, color, jsonb_build_object("
        "'likelihood', lfactors, 'consequence', cfactors) FROM _risk_cand", (run_id, year))
    return int(run_id)


def summary(conn: psycopg.Connection) -> dict[str, Any]:
    """The run's counts as the risk list now shows its points: by their current level, which
    an active alarm may hold above the one this run graded (:mod:`layers.risk.alarm`) — the
    graded levels alone said 重大 0 beside a list holding a 红 point. ``graded_by_level``
    keeps this run's own grading, ``raised_by_alarms`` the points between the two."""
    cur = conn.cursor(row_factory=dict_row)
    by_level = {lv: 0 for lv in LEVELS}
    graded = {lv: 0 for lv in LEVELS}
    raised = 0
    for r in cur.execute(
            "SELECT r.level AS shown, c.level AS graded, count(*) AS n FROM _risk_cand c "
            "JOIN risk_points r ON r.valid_to IS NULL AND r.code = c.code GROUP BY 1, 2"):
        by_level[r["shown"]] += r["n"]
        graded[r["graded"]] += r["n"]
        raised += r["n"] if r["shown"] != r["graded"] else 0
    by_type = {r["risk_type_code"]: r["n"] for r in cur.execute(
        "SELECT risk_type_code, count(*) AS n FROM _risk_cand GROUP BY 1 ORDER BY 1")}
    return {"total": sum(by_level.values()), "by_level": by_level, "by_type": by_type,
            "graded_by_level": graded, "raised_by_alarms": raised}


def assess(conninfo: str, cfg: RiskConfig, year: int | None = None,
           today: dt.date | None = None) -> dict[str, Any]:
    """Regenerate, regrade and record; the run's summary (``cim risk assess --json``)."""
    today = today or cfg.today()
    year = year or today.year
    with psycopg.connect(conninfo) as conn:
        if not generate.table_exists(conn, "risk_points"):
            raise DatabaseError("no risk_points table: run `cim db upgrade` first")
        # one assessment at a time: two would race for the same rule points
        lock_writers(conn)
        generate.create_candidates(conn)
        found = generate.add_rule_candidates(conn, cfg)
        manual = generate.add_manual_candidates(conn)
        by_hand = generate.drop_rules_covered_by_hand(conn)
        unjudged = generate.unjudged(conn, cfg)
        dropped: dict[str, int] = {}
        kept = grade.score_likelihood(conn, cfg, year, dropped)
        generate.place_candidates(conn)
        missing = grade.measure_exposure(conn, cfg, year)
        grade.grade(conn, cfg, today)
        # from here it writes points: the alarms raising points wait for its commit (and it
        # for theirs), then find the points it wrote (layers.risk.alarm.lock_points)
        lock_points(conn)
        outside = code_candidates(conn, cfg)
        counts = merge(conn, cfg, retire_missing=True)
        run_id = record(conn, year)
        _, unraised = take_alarm_raises(conn, cfg)
        unknown = conn.execute(
            "SELECT u, count(*) FROM _risk_cand CROSS JOIN jsonb_array_elements_text("
            "CASE WHEN jsonb_typeof(lfactors->'unknown') = 'array' THEN lfactors->'unknown' "
            "ELSE '[]' END) AS u GROUP BY u ORDER BY u").fetchall()
        from layers.risk.manual import misplaced

        wrong = misplaced(conn, cfg)
        defaulted = conn.execute(
            "SELECT count(*) FROM _risk_cand WHERE source = 'manual' AND "
            "(lfactors->>'defaulted')::boolean IS TRUE").fetchone()[0]
        out = {"run_id": run_id, "year": year, "date": today.isoformat(),
               **summary(conn), "manual": manual, "outside_districts": outside,
               "rules": {rid: {"candidates": n, "points": kept.get(rid, 0)}
                         for rid, n in found.items()},
               "changes": counts, "misplaced_manual": wrong,
               "notes": [f"layer {m} is missing or empty: it adds nothing to the consequence"
                         for m in missing]
               + [f"rule {rid}: its layer is missing" for rid, n in found.items() if n < 0],
               "rules_file": str(cfg.rules_path), "matrix_file": str(cfg.matrix_path)}
    out["notes"] += [f"{n} points scored without their pipe's {col} (the rule's default for "
                     "it: factors.likelihood.unknown)" for col, n in unknown]
    out["notes"] += [f"rule {rid}: {n} pipes with an unknown input (material, year or "
                     "pressure) scored under min_likelihood by the rule's defaults: no point"
                     for rid, n in sorted(dropped.items())]
    for rid, n in dropped.items():
        out["rules"][rid]["unknown_not_points"] = n
    for rid, n in sorted(unjudged.items()):
        out["rules"][rid]["unjudged"] = n
        out["notes"].append(f"rule {rid}: {n} features it selects lack the elevation it "
                            "judges them by: not judged, no point")
    for rid, n in sorted(by_hand.items()):
        out["rules"][rid]["points_by_hand"] = n
        out["notes"].append(f"rule {rid}: {n} assets it finds have this risk as a point added "
                            "by hand: that point stands for it")
    if defaulted:  # graded on a likelihood nobody gave: a reviewer should assess them
        out["notes"].append(f"{defaulted} points added by hand have the default likelihood "
                            "(`cim risk add` without --likelihood; factors.likelihood."
                            "defaulted): not assessed")
    if wrong:  # placed by a person: named for review, never retired here
        named = ", ".join(
            f"{w['code']} ({w['risk_type_code']} on {w['asset_code']}, "
            + ", ".join(f"{c} {v if v is not None else 'blank'}" for c, v in w["asset"].items())
            + ")" for w in wrong[:MISPLACED_NAMED])
        more = f" and {len(wrong) - MISPLACED_NAMED} more" if len(wrong) > MISPLACED_NAMED else ""
        out["notes"].append(f"{len(wrong)} points added by hand lie on an asset their type is "
                            f"no longer on (risk_types.csv asset_where, the rules' where): "
                            f"{named}{more}; kept, review them (misplaced_manual)")
    if outside:
        out["notes"].append(f"{outside} risks lie outside every district of the city: no "
                            "point (outside_districts)")
    if unraised:  # opened before alarms recorded what they raise, and never raised one
        out["notes"].append(f"{len(unraised)} active alarms say not which risk level they "
                            f"raise (opened before alarms recorded it): {', '.join(unraised)}; "
                            "not raised: an escalation records it, and the next "
                            "assessment raises their asset's point")
    out["unraised_alarms"] = unraised
    if out["raised_by_alarms"]:
        out["notes"].append(f"{out['raised_by_alarms']} points stand above their graded level "
                            "while an alarm on their asset is active (cim risk history CODE)")
    return out
