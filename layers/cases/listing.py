"""Finding cases: the list (``cim case list``, ``GET /cases``) and a point given in another
CRS placed in the storage CRS."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import psycopg
import shapely
from psycopg import sql
from psycopg.rows import dict_row

from cim.errors import InputError
from cim.text import shown
from layers.cases.dispatch import waiting_states
from layers.cases.store import CASE_COLUMNS, utc
from layers.query.sqlparts import storage_srid

if TYPE_CHECKING:
    from cim.profile import CityProfile

MAX_LIMIT = 1000


def point_in_storage(conn: psycopg.Connection, point: tuple[float, float],
                     crs: str | None, point_field: str = "point",
                     crs_field: str = "crs") -> tuple[float, float]:
    """``point`` (x, y in ``crs``; None = the storage CRS) as storage-CRS x, y. ``crs``
    follows the query library (CRS84 lon/lat, EPSG:4490 lat/lon, a projected CRS's axis
    order). A blank ``crs`` (a form's empty field) is none given, as a blank field is
    elsewhere: it was an "unknown coordinate reference system ''" naming no field. An
    unknown CRS is an InputError naming ``crs_field``, a point it cannot hold (a latitude
    past 90) one naming ``point_field`` (the request's ``crs``/``point``, the CLI's
    ``--crs``/``--point``): both named no field."""
    crs = (crs or "").strip() or None
    if crs is None:
        return point
    from cim.crs import crs_arg, is_crs84, parse_crs
    from layers.query.common import query_geometry

    if not is_crs84(crs):
        try:
            parse_crs(crs_arg(crs))
        except InputError as exc:
            raise InputError(exc.message, field=crs_field) from None
    srid = storage_srid(conn)
    try:
        q = query_geometry(shapely.Point(point), crs, srid, what="the point")
    except InputError as exc:
        if exc.field is not None:
            raise
        raise InputError(exc.message, field=point_field) from None
    g, params = q.storage_sql(srid)
    return conn.execute(sql.SQL("SELECT ST_X(p), ST_Y(p) FROM (SELECT {} AS p) q").format(g),
                        params).fetchone()


def _where(conn: psycopg.Connection, state: str | None, grid: str | None, unit: str | None,
           overdue: bool, now: dt.datetime | None, district: str | None = None,
           category: str | None = None, profile: CityProfile | None = None,
           ) -> tuple[list[str], dict[str, Any]]:
    """The filters of :func:`list_cases` as SQL conditions and parameters."""
    from layers.cases.categories import categories_file, load_categories
    from layers.cases.workflow import load_workflow, workflow_file

    where, params = ["valid_to IS NULL"], {}
    if district:
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM admin_divisions WHERE code = %s "
                            "AND level = 3)", (district,)).fetchone()[0]:
            raise InputError(f"no district (level 3) has code {shown(district)}", field="district")
        where.append("district_code = %(district)s")
        params["district"] = district
    if category:
        # a category of the file, or one cases were opened under before it left the file
        path = categories_file(profile)
        if category not in load_categories(path) and not conn.execute(
                "SELECT EXISTS (SELECT 1 FROM cases WHERE category_code = %s)",
                (category,)).fetchone()[0]:
            raise InputError(f"no case category has code {shown(category)} ({path.name})",
                             field="category")
        where.append("category_code = %(category)s")
        params["category"] = category
    if state:
        states = load_workflow(workflow_file(profile)).states
        if state not in states:
            raise InputError(f"state {shown(state)} is not a state of the case loop; states: "
                             f"{', '.join(states)} (case_workflow.yaml)", field="state")
        where.append("state = %(state)s")
        params["state"] = state
    if grid:
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM grid_cells WHERE code = %s)",
                            (grid,)).fetchone()[0]:
            raise InputError(f"no grid cell has code {shown(grid)}", field="grid")
        where.append("grid_code = %(grid)s")
        params["grid"] = grid
    if unit:
        where.append("unit = %(unit)s")
        params["unit"] = unit
    if overdue:
        where.append("state = ANY(%(waiting)s) AND deadline < %(now)s")
        params["waiting"] = waiting_states(profile)
        # None: the platform's clock, not the machine's a command runs on (dispatch)
        params["now"] = utc(now) or conn.execute("SELECT now()").fetchone()[0]
    return where, params


def list_cases(conn: psycopg.Connection, *, state: str | None = None,
               grid: str | None = None, unit: str | None = None, overdue: bool = False,
               now: dt.datetime | None = None, limit: int = 100,
               after: str | None = None, district: str | None = None,
               category: str | None = None,
               profile: CityProfile | None = None) -> list[dict[str, Any]]:
    """Current cases, the last opened on the platform first (``valid_from``, the time its row
    was written; then by code, descending), filtered by state (one
    of case_workflow.yaml's states: any other is an InputError naming them, not an empty
    list), grid cell (one the grid has or had: a mistyped code is an InputError), unit and
    overdue (past the deadline and not handled yet at ``now``), district (a level-3 division's
    code) and category (case_categories.csv; a code neither the file nor any case has is an
    InputError; ``profile``: whose loop and categories, None the platform's). ``after``: the
    code of the
    last case of the page before — the page goes on after it (keyset: a case reported
    meanwhile neither shifts nor repeats a row); a code no current case has is an
    InputError.

    Not by ``reported_at``: that is when the problem was reported or happened — a sensor's
    reading relayed hours late, a patrol's report typed in at the end of the shift — and
    such a case, new to the people of the loop, sank below the cases opened since."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit is 1..{MAX_LIMIT}", field="limit")
    where, params = _where(conn, state, grid, unit, overdue, now, district, category,
                           profile)
    if after:
        last = conn.execute("SELECT valid_from FROM cases WHERE code = %s AND valid_to IS NULL",
                            (after,)).fetchone()
        if last is None:
            raise InputError(f"after {shown(after)}: no current case has this code (give the "
                             "code of the last case of the page before)", field="after")
        where.append("(valid_from, code) < (%(after_at)s, %(after)s)")
        params["after_at"], params["after"] = last[0], after
    params["limit"] = limit
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(f"SELECT {CASE_COLUMNS} FROM cases WHERE {' AND '.join(where)} "  # noqa: S608
                       "ORDER BY valid_from DESC, code DESC LIMIT %(limit)s", params).fetchall()


def count_cases(conn: psycopg.Connection, *, state: str | None = None,
                grid: str | None = None, unit: str | None = None, overdue: bool = False,
                now: dt.datetime | None = None, district: str | None = None,
                category: str | None = None, profile: CityProfile | None = None) -> int:
    """How many current cases :func:`list_cases` lists with these filters, on all pages."""
    where, params = _where(conn, state, grid, unit, overdue, now, district, category,
                           profile)
    return conn.execute(f"SELECT count(*) FROM cases WHERE {' AND '.join(where)}",  # noqa: S608
                        params).fetchone()[0]
