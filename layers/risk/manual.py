"""``cim risk add``: a risk point placed by hand, on an asset (its code) or at a point.

The point is graded at once (same consequence and matrix as ``cim risk assess``), coded by the
one allocator (source key ``manual:<uuid>``: a new point each time) and recorded in
``risk_assessments``. Reassessments keep it (its likelihood, measure and code) and regrade its
consequence; nothing but a person removes it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg
import shapely

from cim.errors import InputError
from cim.layerdefs import LAYERS
from layers.query.common import query_geometry
from layers.query.sqlparts import storage_srid
from layers.risk import generate, grade
from layers.risk.alarm import lock_points, lock_writers
from layers.risk.assess import code_candidates, merge, record, take_alarm_raises
from layers.risk.config import RiskConfig

# the columns of an asset that name its owner, first non-empty wins
OWNER_FIELDS = ("owner_name", "owner", "dept_name", "maint_name")


def _asset(conn: psycopg.Connection, code: str) -> tuple[str, str | None]:
    reg = conn.execute("SELECT layer FROM code_registry WHERE code = %s", (code,)).fetchone()
    layer = reg[0] if reg else None
    if layer is None:  # a feature written without the allocator: look in every layer
        layer = next((n for n, d in LAYERS.items() if generate.table_exists(conn, d.table)
                      and conn.execute(f"SELECT EXISTS (SELECT 1 FROM {d.table} "  # noqa: S608
                                       "WHERE code = %s AND valid_to IS NULL)",
                                       (code,)).fetchone()[0]), None)
    if layer not in LAYERS or not generate.table_exists(conn, LAYERS[layer].table):
        raise InputError(f"no feature has code {code}", field="--asset")
    cols = [c for c in OWNER_FIELDS if c in LAYERS[layer].column_names()]
    owner = "NULL" if not cols else "COALESCE(" + ", ".join(
        f"NULLIF(btrim({c}), '')" for c in cols) + ")"
    row = conn.execute(f"SELECT {owner} FROM {LAYERS[layer].table} "  # noqa: S608 (declared)
                       "WHERE code = %s AND valid_to IS NULL", (code,)).fetchone()
    if row is None:
        raise InputError(f"the feature {code} of {layer} is retired", field="--asset")
    return layer, row[0]


Groups = list[list[tuple[str, dict[str, list[str]]]]]


def kind_groups(cfg: RiskConfig, risk_type: str, layer: str) -> Groups:
    """What an asset of ``layer`` must be to carry a point of ``risk_type``: groups the asset
    meets all of, each met by one of its (label, where) alternatives — the type's
    ``asset_where``, and its rules of that layer when all of them have a ``where``; none: any
    feature of the layer. One reading for `cim risk add` (refusing) and `cim risk assess`
    (naming the points added before the city said so)."""
    groups: Groups = []
    if risk_type in cfg.types and cfg.types[risk_type].asset_where:
        groups.append([("risk_types.csv asset_where", cfg.types[risk_type].asset_where)])
    rules = [r for r in cfg.rules if r.type == risk_type and r.layer == layer]
    if rules and all(r.where for r in rules):
        groups.append([(f"rule {r.id}", r.where) for r in rules])
    return groups


def misplaced(conn: psycopg.Connection, cfg: RiskConfig) -> list[dict[str, Any]]:
    """The current points added by hand whose asset is no asset their type is on now
    (:func:`kind_groups`): added before risk_types.csv said what the type is on, or before
    a city narrowed it. `cim risk add` refuses such a point; one already there is left as it
    is (a person placed it, and may know better than the file) but named, so someone looks
    at it. Each: code, risk_type_code, asset_layer, asset_code and what the asset has
    (column → value)."""
    out: list[dict[str, Any]] = []
    for risk_type, layer in conn.execute(
            "SELECT DISTINCT risk_type_code, asset_layer FROM risk_points WHERE valid_to IS "
            "NULL AND source = 'manual' AND asset_code IS NOT NULL ORDER BY 1, 2").fetchall():
        groups = kind_groups(cfg, risk_type, layer) if layer in LAYERS else []
        if not groups:
            continue
        cols = sorted({c for g in groups for _, w in g for c in w})
        col = {c: psycopg.sql.SQL("a.{}::text").format(psycopg.sql.Identifier(c))
               for c in cols}
        met, params = _met_sql(groups, col)
        query = psycopg.sql.SQL(
            "SELECT r.code, r.asset_code, {cols} FROM risk_points r JOIN {table} a ON "
            "a.code = r.asset_code AND a.valid_to IS NULL WHERE r.valid_to IS NULL AND "
            "r.source = 'manual' AND r.risk_type_code = %s AND r.asset_layer = %s AND NOT ({met}) "
            "ORDER BY r.code").format(
                cols=psycopg.sql.SQL(", ").join(col[c] for c in cols),
                table=psycopg.sql.Identifier(LAYERS[layer].table), met=met)
        for code, asset, *values in conn.execute(query, [risk_type, layer, *params]):
            out.append({"code": code, "risk_type_code": risk_type, "asset_layer": layer,
                        "asset_code": asset, "asset": dict(zip(cols, values, strict=True))})
    return out


def _met_sql(groups: Groups, col: dict[str, psycopg.sql.Composable]
             ) -> tuple[psycopg.sql.Composable, list[list[str]]]:
    """The condition an asset ``a`` meets ``groups`` by, and its parameters in order (a blank
    column meets no where, as in :func:`_of_the_types_kind`)."""
    params: list[list[str]] = []
    alternatives = []
    for g in groups:
        ors = []
        for _, where in g:
            ands = []
            for c, vals in where.items():
                ands.append(psycopg.sql.SQL("coalesce({} = ANY(%s), false)").format(col[c]))
                params.append(vals)
            ors.append(psycopg.sql.SQL("({})").format(psycopg.sql.SQL(" AND ").join(ands)))
        alternatives.append(psycopg.sql.SQL("({})").format(psycopg.sql.SQL(" OR ").join(ors)))
    return psycopg.sql.SQL(" AND ").join(alternatives), params


def _of_the_types_kind(conn: psycopg.Connection, cfg: RiskConfig, risk_type: str,
                       layer: str, asset: str) -> None:
    """The asset is of a kind the type is on, where the city says so: the type's
    ``asset_where`` (risk_types.csv, for a type added only by hand: a heating leak 0105 on a
    heating pipe) and its rules' ``where`` (a gas pipe's pipe_class 03, a septic tank's
    subclass 0302) — a layer alone let a gas leak be put on a water main and a heating leak
    on a gas main, counted among the wrong risks of their grid cell. One check for both:
    the asset meets the type's asset_where and one rule of its layer; a type with neither
    (or a rule of this layer without ``where``) takes any feature of its layer."""
    groups = kind_groups(cfg, risk_type, layer)
    if not groups:
        return
    cols = sorted({c for g in groups for _, w in g for c in w})
    row = conn.execute(psycopg.sql.SQL("SELECT {} FROM {} WHERE code = %s AND valid_to IS NULL"
                                       ).format(psycopg.sql.SQL(", ").join(
                                           psycopg.sql.SQL("{}::text").format(
                                               psycopg.sql.Identifier(c)) for c in cols),
                                           psycopg.sql.Identifier(LAYERS[layer].table)),
                       (asset,)).fetchone()
    got = dict(zip(cols, row, strict=True))
    unmet = [g for g in groups
             if not any(all(got[c] in vals for c, vals in w.items()) for _, w in g)]
    if not unmet:
        return
    has = ", ".join(f"{c} {got[c] if got[c] is not None else 'blank'}" for c in cols)
    takes = "; ".join(
        "; ".join(f"{label}: " + ", ".join(f"{c} {'/'.join(v)}" for c, v in w.items())
                  for label, w in g)
        + (f" ({cfg.rules_path.name})" if g[0][0].startswith("rule ") else "") for g in unmet)
    raise InputError(f"{asset} ({layer}, {has}) is no asset a risk of type {risk_type} "
                     f"({cfg.types[risk_type].name}) is on: {takes}", field="--asset")


def _text(value: str | None, option: str) -> str | None:
    """A text given on the command line, stripped; one given blank is refused (it stored a
    point whose responsible unit or measure was " ", listed as if it had none)."""
    if value is None:
        return None
    if not value.strip():
        raise InputError("is blank: give a text or leave the option out", field=option)
    return value.strip()


def add_point(conninfo: str, cfg: RiskConfig, risk_type: str, *, asset: str | None = None,
              point: tuple[float, float] | None = None, crs: str | None = None,
              likelihood: int | None = None, unit: str | None = None,
              measure: str | None = None, deadline: dt.date | None = None,
              description: str | None = None, today: dt.date | None = None
              ) -> dict[str, Any]:
    """Add one point; its code, level and colour. Without ``likelihood`` the matrix's
    ``manual_likelihood`` is taken and recorded as a default (``defaulted`` in the point's
    likelihood factors, its history's and ``likelihood_defaulted``): a 3 nobody assessed
    read as one a person had judged."""
    if risk_type not in cfg.types:
        raise InputError(f"unknown risk type {risk_type!r}; types: {', '.join(cfg.types)}",
                         field="--type")
    asset = asset.strip() if asset is not None else None  # pasted from a table
    if asset == "":  # an empty cell pasted: "no feature has code " named nothing
        raise InputError("is blank: give the asset's code, or --point without --asset",
                         field="--asset")
    if (asset is None) == (point is None):
        raise InputError("give --asset CODE or --point X,Y (one of them)")
    defaulted = likelihood is None
    if likelihood is None:
        likelihood = cfg.matrix.manual_likelihood
    if not 1 <= likelihood <= 5:
        raise InputError("likelihood is 1..5", field="--likelihood")
    unit, measure, description = (_text(unit, "--unit"), _text(measure, "--measure"),
                                  _text(description, "--description"))
    today = today or cfg.today()
    if deadline is not None and deadline < today:
        raise InputError(f"deadline {deadline.isoformat()} is before today "
                         f"({today.isoformat()}, the city's date): a new point's measure is "
                         "due from now on", field="--deadline")
    rule = next((r for r in cfg.rules if r.type == risk_type), None)
    with psycopg.connect(conninfo) as conn:
        lock_writers(conn)
        lock_points(conn)  # as an assessment's merge: the alarm path waits for the new point
        generate.create_candidates(conn)
        key = f"manual:{uuid.uuid4().hex}"
        owner = None
        if asset is not None:
            layer, owner = _asset(conn, asset)
            rt = cfg.types[risk_type]
            if rt.asset_layer and layer != rt.asset_layer:
                raise InputError(f"{asset} is a feature of {layer}; a risk of type {risk_type} "
                                 f"({rt.name}) is on {rt.asset_layer} (risk_types.csv)",
                                 field="--asset")
            _of_the_types_kind(conn, cfg, risk_type, layer, asset)
            geom_sql = (f"(SELECT {generate._POINT} FROM {LAYERS[layer].table} t "
                        "WHERE t.code = %(asset)s AND t.valid_to IS NULL)")
            params = {"asset": asset}
        else:
            layer = None
            srid = storage_srid(conn)
            # the point in the storage CRS (transformed by PostGIS), then bound as WKT
            g, gp = query_geometry(shapely.Point(point), crs, srid,
                                   what="--point").storage_sql(srid)
            wkt = conn.execute(psycopg.sql.SQL("SELECT ST_AsText({})").format(g),
                               gp).fetchone()[0]
            geom_sql, params = f"ST_GeomFromText(%(wkt)s, {srid})", {"wkt": wkt}
        # the same risk on the same asset (or at the very same point) is one point: a second
        # entry — a retry, two people reporting it — made a second point with its own deadline
        where = ("asset_code = %(asset)s" if asset is not None
                 else f"asset_code IS NULL AND ST_Equals(geom, {geom_sql})")
        same = conn.execute(
            "SELECT code FROM risk_points WHERE valid_to IS NULL AND risk_type_code = "
            f"%(type)s AND {where} ORDER BY code LIMIT 1",  # noqa: S608 (no input in it)
            {**params, "type": risk_type}).fetchone()
        if same is not None:
            raise InputError(f"risk point {same[0]} is this risk of type {risk_type} already: "
                             f"record on it with `cim risk measure {same[0]}`",
                             field="--asset" if asset is not None else "--point")
        resp = unit or owner or (rule.default_unit if rule else None)
        if not resp:
            raise InputError("no responsible unit: the asset names no owner; give --unit",
                             field="--unit")
        conn.execute(
            "INSERT INTO _risk_cand (source_key, source, risk_type_code, asset_layer, "
            "asset_code, props, responsible_unit, likelihood, lfactors, description, geom, "
            "ageom, measure, deadline) VALUES (%(key)s, 'manual', %(type)s, %(layer)s, "
            f"%(asset)s, '{{}}', %(unit)s, %(lk)s, %(lf)s, %(desc)s, {geom_sql}, "
            f"{geom_sql}, %(measure)s, %(deadline)s)",
            {**params, "key": key, "type": risk_type, "layer": layer, "asset": asset,
             "unit": resp, "lk": likelihood,
             "lf": psycopg.types.json.Jsonb({"manual": likelihood, "defaulted": True}
                                            if defaulted else {"manual": likelihood}),
             "desc": description or cfg.types[risk_type].name,
             "measure": measure or (rule.measure if rule else None), "deadline": deadline})
        generate.asset_geometries(conn)
        generate.place_candidates(conn)
        grade.measure_exposure(conn, cfg, today.year)
        grade.grade(conn, cfg, today)
        if code_candidates(conn, cfg):
            raise InputError("the point lies outside every district of the city",
                             field="--asset" if asset is not None else "--point")
        merge(conn, cfg, retire_missing=False)
        record(conn, today.year)
        code, graded, cons = conn.execute(
            "SELECT code, level, consequence FROM _risk_cand").fetchone()
        raised = [a for a, p in take_alarm_raises(conn, cfg)[0] if p == code]
        level, color = conn.execute("SELECT level, color FROM risk_points WHERE code = %s "
                                    "AND valid_to IS NULL", (code,)).fetchone()
    # ``level``: as the list shows it — an alarm active on the asset raises it
    # (``raised_by``), ``graded_level`` is likelihood × consequence
    return {"code": code, "risk_type_code": risk_type, "asset_code": asset,
            "responsible_unit": resp, "likelihood": likelihood,
            "likelihood_defaulted": defaulted, "consequence": cons, "level": level,
            "color": color, "graded_level": graded, "raised_by": raised}


# the columns of a point a new measure version copies besides those of assess._CONTENT —
# its flags too: the alarm:<code> of an alarm raising it (layers.risk.alarm), which the next
# assessment keeps the raise by (a measure recorded during an alarm dropped it)
_COPIED = "code, source_key, attrs, flags, geom, risk_type, domain, domain_code"


def update_measure(conninfo: str, code: str, *, status: str | None = None,
                   deadline: dt.date | None = None, measure: str | None = None,
                   unit: str | None = None, statuses: tuple[str, ...] = (),
                   today: dt.date | None = None) -> dict[str, Any]:
    """Record progress on a point's control measure (一点一策) as a new version of the point;
    reassessments keep the status, and the deadline while the level is unchanged.
    ``statuses``: the states a measure may be in (risk_matrix.yaml measure_statuses).

    Only a change makes a version: a progress report repeating what the point already says
    (the same status sent again by a unit's system, or typed twice) leaves the point as it
    is — a version per repetition filled ``cim history`` with versions that differ in nothing
    and moved the point's ``valid_from`` though nothing had happened. ``changed`` says
    which it was. ``today``: the city's date; a new deadline before it is refused, as
    `cim risk add` refuses one (a year mistyped, 2025 for 2026, made the measure overdue the
    moment it was recorded); the deadline the point has already may be sent again.
    ``code`` pasted from a table may carry blanks around it."""
    from layers.risk.assess import _CONTENT

    code = code.strip()

    if status is deadline is measure is unit is None:
        raise InputError("nothing to change: give --status, --deadline, --measure or --unit")
    measure, unit = _text(measure, "--measure"), _text(unit, "--unit")
    cols = [c.strip() for c in _CONTENT.split(",")]
    new = {"measure_status": status, "deadline": deadline, "measure": measure,
           "measure_unit": unit}
    with psycopg.connect(conninfo) as conn:
        lock_writers(conn)
        lock_points(conn)  # an alarm raising the point waits for its new version
        cur = conn.execute("SELECT id, measure_status, deadline, measure, measure_unit FROM "
                           "risk_points WHERE code = %s AND valid_to IS NULL FOR UPDATE",
                           (code,)).fetchone()
        if cur is None:
            raise InputError(f"no current risk point has code {code}", field="CODE")
        if (deadline is not None and today is not None and deadline < today
                and deadline != cur[2]):
            raise InputError(f"deadline {deadline.isoformat()} is before today "
                             f"({today.isoformat()}, the city's date): a measure's deadline "
                             "is due from now on", field="--deadline")
        if status is not None and statuses and status not in statuses:
            raise InputError(f"status {status!r}: one of {' '.join(statuses)}",
                             field="--status")
        now = dict(zip(new, cur[1:], strict=True))
        changed = any(v is not None and v != now[k] for k, v in new.items())
        if changed:
            conn.execute("UPDATE risk_points SET valid_to = now() WHERE id = %s", (cur[0],))
            keep = [c for c in cols if c not in new]
            sel = [*keep, *(f"coalesce(%({c})s, {c})" for c in new)]
            names = [*keep, *new]
            conn.execute(
                f"INSERT INTO risk_points ({_COPIED}, {', '.join(names)}) SELECT {_COPIED}, "
                f"{', '.join(sel)} FROM risk_points WHERE id = %(id)s", {**new, "id": cur[0]})
            # the hash of the point as graded — its own level and colour (its last grading's,
            # as the assessment hashes its candidates), not those an active alarm raised it
            # to: hashed raised, the next assessment found the point changed and gave it a
            # version that differed in nothing
            graded = conn.execute(
                "SELECT level, color FROM risk_assessments WHERE code = %s COLLATE \"default\" "
                "AND source <> 'alarm' ORDER BY run_id DESC, id DESC LIMIT 1",
                (code,)).fetchone() or (None, None)
            own = ", ".join("coalesce(%(level)s, level)" if c == "level" else
                            "coalesce(%(color)s, color)" if c == "color" else c for c in cols)
            conn.execute(f"UPDATE risk_points SET row_hash = md5(concat_ws('|', {own}, "
                         "encode(ST_AsBinary(geom), 'hex'))) WHERE code = %(code)s AND "
                         "valid_to IS NULL",
                         {"code": code, "level": graded[0], "color": graded[1]})
        row = conn.execute("SELECT measure, measure_unit, deadline, measure_status FROM "
                           "risk_points WHERE code = %s AND valid_to IS NULL",
                           (code,)).fetchone()
    return {"code": code, "measure": row[0], "measure_unit": row[1],
            "deadline": row[2].isoformat() if row[2] else None, "measure_status": row[3],
            "changed": changed}
