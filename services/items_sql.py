"""The SQL of the platform's items path: one statement per page, its text built once.

A page is one statement that builds every feature as GeoJSON text in PostGIS
(``ST_AsGeoJSON`` of ``ST_Transform``, axes put in the requested CRS's order with
``ST_FlipCoordinates``: CRS84 lon/lat, EPSG:4490 lat/lon, the storage CRS northing/easting);
Python only joins the texts. The text of each statement depends only on the shape of the
request (collection, output CRS, bbox CRS, which properties are filtered, selected or sorted),
never on its values, which are bound: so the texts are cached per process and psycopg
prepares them on each pooled connection, and PostgreSQL plans them once. The bbox is four
bound numbers: ``ST_MakeEnvelope`` in the bbox CRS, densified in that CRS and projected to the
storage CRS once, in PostGIS (exact to well under a millimetre; the GiST index is used);
a lon/lat bbox is first cut to where the layer's data can lie
(:func:`cim.crs.storage_domain`), since a box far larger than the storage CRS's area
(a whole-world bbox) projects to no rectangle at all.

Paging: the default order is by ``id``; a page after another one is ``id > cursor`` (keyset),
so the last page of a million costs what the first does. A sorted page goes on after the
last feature's sort values and id (a keyset too, :func:`keyset_after`), never by ``OFFSET``.
``numberMatched`` is counted exactly up to a cap (``count(*)`` of at most cap + 1 rows) and
omitted above it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from cim.crs import AREA_SIMPLIFY_M, densify_step, metres_in_units
from services.items_query import Column, CrsInfo, ItemsQuery
from services.items_values import Span

_JSON_ARGS_MAX = 50  # json_build_object takes at most 100 arguments

# The CQL2 hook: (filter text, filter-lang, filter-crs, collection) -> (SQL boolean expression
# over the alias ``p`` with %(name)s placeholders, its parameters). None: pygeoapi answers
# requests with a filter.
FilterTranslator = Callable[[str, "str | None", "str | None", "Layer"], tuple[str, dict]]


@dataclass(frozen=True)
class Layer:
    """A served layer table: what its SQL needs."""

    name: str
    table: str
    srid: int
    id_field: str
    columns: tuple[Column, ...]


_CACHE: dict[tuple, str] = {}
_LOCK = threading.Lock()


def _cached(key: tuple, build: Callable[[], sql.Composable]) -> str:
    text = _CACHE.get(key)
    if text is None:
        text = build().as_string(None)
        with _LOCK:
            if len(_CACHE) > 1000:  # shapes of requests are few; never grow without bound
                _CACHE.clear()
            _CACHE[key] = text
    return text


def _shape(layer: Layer, q: ItemsQuery) -> tuple:
    when = None if q.valid_at is None else (tuple(v is not None for v in q.valid_at),
                                            q.end_exclusive, q.one_version)
    return (layer.name, q.out_crs, q.bbox_crs if q.bbox else None, q.bbox_empty, when,
            len(q.terms), None if q.after is None else tuple(v is None for v in q.after[0]),
            tuple((c.name, isinstance(v, Span)) for c, v in q.props), q.select,
            q.skip_geometry, q.sortby)


def feature_sql(layer: Layer, out: CrsInfo, select: tuple[str, ...] | None,
                skip_geometry: bool) -> sql.Composable:
    """One feature of alias ``p`` as GeoJSON text."""
    cols = [c for c in layer.columns
            if select is None or c.name in select or c.name == layer.id_field]
    chunks = [cols[i:i + _JSON_ARGS_MAX] for i in range(0, len(cols), _JSON_ARGS_MAX)] or [[]]
    objs = [sql.SQL("jsonb_build_object({})" if len(chunks) > 1 else "json_build_object({})")
            .format(sql.SQL(", ").join(sql.SQL("{}, p.{}").format(sql.Literal(c.name),
                                                                 sql.Identifier(c.name))
                                       for c in chunk)) for chunk in chunks]
    props = sql.SQL("({})::text").format(sql.SQL(" || ").join(objs))
    if skip_geometry:
        geom = sql.SQL("'null'")
    else:
        g = sql.SQL("p.geom")
        if out.srid != layer.srid:
            g = sql.SQL("ST_Transform({}, {})").format(g, sql.Literal(out.srid))
        if out.north_first:
            g = sql.SQL("ST_FlipCoordinates({})").format(g)
        geom = sql.SQL("coalesce(ST_AsGeoJSON({}, {}, 0), 'null')").format(
            g, sql.Literal(out.digits))
    return sql.SQL(
        "'{{\"type\":\"Feature\",\"id\":' || coalesce(to_json(p.{})::text, 'null') || "
        "',\"geometry\":' || {} || ',\"properties\":' || {} || '}}'").format(
        sql.Identifier(layer.id_field), geom, props)


def _where(layer: Layer, q: ItemsQuery, params: dict, with_cursor: bool,
           extra: str | None) -> sql.Composable:
    conds: list[sql.Composable] = []
    if q.valid_at is None:
        conds.append(sql.SQL("p.valid_to IS NULL"))
    else:  # the versions valid at the instant or during the interval
        start, end = q.valid_at
        if end is not None:  # began by its end
            conds.append(sql.SQL("p.valid_from < %(t_end)s" if q.end_exclusive
                                 else "p.valid_from <= %(t_end)s"))
            params["t_end"] = end
        if start is not None:  # not ended before its start
            conds.append(sql.SQL("(p.valid_to IS NULL OR p.valid_to > %(t_start)s)"))
            params["t_start"] = start
        if not conds:
            conds.append(sql.SQL("TRUE"))
    if q.terms:  # q: a term in one of the text properties, or a text inside an object one
        texts = [c for c in layer.columns if c.json_type == "string"]
        objects = [c for c in layer.columns if c.json_type == "object"]
        found = [sql.SQL("p.{}::text ILIKE %({})s").format(sql.Identifier(c.name),
                                                          sql.SQL(f"q{i}"))
                 for i in range(len(q.terms)) for c in texts]
        found += [sql.SQL("jsonb_path_exists(p.{}, %({})s::jsonpath)").format(
            sql.Identifier(c.name), sql.SQL(f"qj{i}"))
            for i in range(len(q.terms)) for c in objects]
        conds.append(sql.SQL("({})").format(sql.SQL(" OR ").join(found) if found
                                            else sql.SQL("FALSE")))
        params.update({f"q{i}": "%" + t.replace("\\", "\\\\").replace("%", "\\%")
                       .replace("_", "\\_") + "%" for i, t in enumerate(q.terms)})
        if objects:
            params.update({f"qj{i}": text_in_json(t) for i, t in enumerate(q.terms)})
    if q.bbox_empty:  # the bbox is where the layer has no data (ItemsQuery.bbox_empty)
        conds.append(sql.SQL("FALSE"))
    elif q.bbox:
        env = sql.SQL("ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, {})").format(
            sql.Literal(q.bbox_crs.srid))
        if q.bbox_crs.srid != layer.srid:
            # a scalar subquery: projected once per statement, also in a generic plan
            # (a prepared statement's, after a few executions), which otherwise projects
            # the densified box again for every row it tests; its edges thinned within 1 mm
            # once projected (cim.crs.AREA_SIMPLIFY_M)
            env = sql.SQL("(SELECT ST_Simplify(ST_Transform(ST_Segmentize({}, {}), {}), {}, "
                          "true))").format(
                env, sql.Literal(densify_step(q.bbox_crs.geographic)), sql.Literal(layer.srid),
                sql.Literal(metres_in_units(layer.srid, AREA_SIMPLIFY_M)))
        conds.append(sql.SQL("ST_Intersects(p.geom, {})").format(env))
        params.update(zip(("x0", "y0", "x1", "y1"), q.bbox))
    for i, (col, value) in enumerate(q.props):
        if isinstance(value, Span):  # a day of a date-time property
            conds.append(sql.SQL("p.{1} >= %({0}a)s AND p.{1} < %({0}b)s").format(
                sql.SQL(f"v{i}"), sql.Identifier(col.name)))
            params[f"v{i}a"], params[f"v{i}b"] = value.start, value.end
            continue
        form = "%({})s = ANY(p.{})" if col.json_type == "array" else "p.{1} = %({0})s"
        conds.append(sql.SQL(form).format(sql.SQL(f"v{i}"), sql.Identifier(col.name)))
        params[f"v{i}"] = value
    if with_cursor:
        conds += keyset_after(q, params)
    if extra:
        conds.append(sql.SQL("({})").format(sql.SQL(extra)))
    return sql.SQL(" AND ").join(conds)


def text_in_json(term: str) -> str:
    """The SQL/JSON path that finds ``term`` in a text anywhere inside a JSON value, as ``q``
    finds it in a text property (case-insensitive, as written: ``like_regex`` flag ``q``
    quotes the pattern). An object property (an alarm's ``detail``: why it cleared, since
    when its sensor is silent) is searched in its texts, never in its keys: the catalog
    types ``jsonb`` as an object, and ``q`` had searched string properties only."""
    return ('strict $.** ? (@.type() == "string" && @ like_regex '
            f'{json.dumps(term, ensure_ascii=False)} flag "iq")')


def keyset_after(q: ItemsQuery, params: dict, alias: str = "p") -> list[sql.Composable]:
    """The rows after a ``cursor``'s: ``id > cursor`` in id order; after a sorted page, the
    rows that come after its last one in the page order (its sort values, then ``id``; nulls
    last in either direction), so ties in the sort keys neither repeat nor skip a feature.
    Over the rows named ``alias``; the one definition, for pygeoapi's pages too
    (:class:`services.providers.CimProvider`, over its table or subquery)."""
    row_id = sql.Identifier(alias, "id")
    if q.cursor is not None:
        params["cursor"] = q.cursor
        return [sql.SQL("{} > %(cursor)s").format(row_id)]
    if q.after is None:
        return []
    values, last_id = q.after
    params["kid"] = last_id
    ors: list[sql.Composable] = []
    same: list[sql.Composable] = []  # equal on the keys before this one
    for i, ((name, desc), v) in enumerate(zip(q.sortby, values)):
        col = sql.Identifier(alias, name)
        if v is None:  # nulls come last: after a null only nulls (then ids)
            same.append(sql.SQL("{} IS NULL").format(col))
            continue
        params[f"k{i}"] = v
        later = sql.SQL("({} {} %({})s OR {} IS NULL)").format(
            col, sql.SQL("<" if desc else ">"), sql.SQL(f"k{i}"), col)
        ors.append(sql.SQL(" AND ").join([*same, later]))
        same.append(sql.SQL("{} = %({})s").format(col, sql.SQL(f"k{i}")))
    ors.append(sql.SQL(" AND ").join([*same, sql.SQL("{} > %(kid)s").format(row_id)]))
    return [sql.SQL("({})").format(sql.SQL(" OR ").join(
        sql.SQL("({})").format(o) for o in ors))]


def _from_where(layer: Layer, q: ItemsQuery, params: dict, with_cursor: bool,
                extra: str | None) -> tuple[sql.Composable, sql.Composable]:
    """The rows a request reads, as alias ``p`` (FROM), and its condition (WHERE). With
    ``datetime`` over a day or an interval, each feature once: its latest version that
    matches (the cursor applies after that choice, so no page repeats a feature)."""
    table = sql.SQL("{} p").format(sql.Identifier(layer.table))
    if not q.one_version:
        return table, _where(layer, q, params, with_cursor, extra)
    cond = _where(layer, q, params, False, extra)
    # A current version that matches is its feature's latest: read as it is (in id order, a
    # page can stop early). A past version counts only where its feature's current version
    # does not match (a probe of the current-code index, through the alias o: the condition
    # is written over p); only those are ranked per feature, on their keys alone — the
    # ranking of every version's whole row sorted them all, on disk.
    frm = sql.SQL(
        "(SELECT p.* FROM {t} WHERE p.valid_to IS NULL AND {c} "
        "UNION ALL "
        "SELECT p.* FROM {t} WHERE p.id IN (SELECT h.id FROM ("
        "SELECT p.id, row_number() OVER (PARTITION BY p.{k} "
        "ORDER BY p.valid_from DESC, p.id DESC) AS _version "
        "FROM {t} CROSS JOIN LATERAL (SELECT p.{k} AS _key) o "
        "WHERE p.valid_to IS NOT NULL AND {c} AND NOT EXISTS (SELECT FROM {t} "
        "WHERE p.{k} = o._key AND p.valid_to IS NULL AND {c})) h "
        "WHERE h._version = 1)) p").format(t=table, c=cond, k=sql.Identifier(layer.id_field))
    where = [sql.SQL("TRUE")]
    if with_cursor:
        where += keyset_after(q, params)
    return frm, sql.SQL(" AND ").join(where)


def page_statement(layer: Layer, q: ItemsQuery,
                   flt: tuple[str, dict] | None = None) -> tuple[str, dict]:
    """(SQL, parameters) of a page: rows of (id, feature GeoJSON text, the values of the
    ``sortby`` keys), in page order; one
    row more than ``q.limit`` when there is one, so the caller knows whether a next page
    exists without counting."""
    params: dict = {"limit": q.limit + 1, "offset": q.offset}
    extra, fparams = flt or (None, {})
    params.update(fparams)

    def build() -> sql.Composable:
        order = [sql.SQL("p.{} {} NULLS LAST").format(sql.Identifier(n),
                                                      sql.SQL("DESC" if d else "ASC"))
                 for n, d in q.sortby] + [sql.SQL("p.id")]
        frm, where = _from_where(layer, q, {}, True, extra)
        keys = [sql.SQL(", p.{}").format(sql.Identifier(n)) for n, _ in q.sortby]
        return sql.SQL("SELECT p.id, {}{} FROM {} WHERE {} ORDER BY {} "
                       "LIMIT %(limit)s OFFSET %(offset)s").format(
            feature_sql(layer, q.out_crs, q.select, q.skip_geometry), sql.SQL("").join(keys),
            frm, where, sql.SQL(", ").join(order))

    _from_where(layer, q, params, True, None)  # the values, in the same names as the text
    if extra:  # a filter's text varies with its values: not cached
        return build().as_string(None), params
    return _cached(("page", q.cursor is not None) + _shape(layer, q), build), params


def count_statement(layer: Layer, q: ItemsQuery, cap: int | None,
                    flt: tuple[str, dict] | None = None) -> tuple[str, dict]:
    """(SQL, parameters) counting the whole match (no paging); with ``cap``, at most cap + 1."""
    params: dict = {}
    extra, fparams = flt or (None, {})
    params.update(fparams)

    def build() -> sql.Composable:
        frm, where = _from_where(layer, q, {}, False, extra)
        if cap is None:
            return sql.SQL("SELECT count(*) FROM {} WHERE {}").format(frm, where)
        return sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT %(cap)s) c") \
            .format(frm, where)

    _from_where(layer, q, params, False, None)
    if cap is not None:
        params["cap"] = cap + 1
    if extra:
        return build().as_string(None), params
    return _cached(("count", cap is None) + _shape(layer, q), build), params


def item_statement(layer: Layer, out: CrsInfo) -> str:
    """SQL of one current feature by its id (the layer's code): one row of GeoJSON text."""
    return _cached(("item", layer.name, out), lambda: sql.SQL(
        "SELECT {} FROM {} p WHERE p.{} = %(fid)s AND p.valid_to IS NULL LIMIT 1").format(
        feature_sql(layer, out, None, False), sql.Identifier(layer.table),
        sql.Identifier(layer.id_field)))
