"""Who should handle a case: the dispatch proposal, and which cases are overdue.

Proposal: a case on an asset (a component of GB/T 30428.2, or any feature with unit columns)
takes the unit named in the asset's 主管 (dept_name; a risk point's responsible_unit) / 权属
(owner_name, owner) / 养护 (maint_name) column, in the order its category's ``unit_fields`` gives (data, see
:mod:`layers.cases.categories`), the first non-empty one; otherwise the category's
``default_unit``. ``unit_basis`` records where the unit came from (主管, 权属, 养护,
``category``, or ``指定`` when the 派遣员 named another unit).

Overdue: a registered case is overdue at ``now`` when its deadline (立案 + the category's time
limit) has passed and it has not been handled yet (state 立案 or 派遣, i.e. no 处置 recorded
since its last dispatch). The list is computed at the time asked (:func:`overdue`); for the
map and the OGC API, :func:`flag_overdue` (``cim case flag-overdue``, run periodically like the
gap detector) keeps the flag ``overdue`` in the cases' ``flags`` in step, and an action that
moves a case out of 立案/派遣 drops the flag at once (:mod:`layers.cases.workflow`). Handling is what the time limit measures (GB/T 30428 按期处置), so a
case handled in time is not overdue while it waits for 核查 or 结案; a case 退回 from 核查 to
派遣 is handled again against the same deadline, so it can become overdue again.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from cim.errors import InputError
from cim.layerdefs import LAYERS
from cim.text import shown
from layers.cases.categories import UNIT_BASES, Category

if TYPE_CHECKING:
    from cim.profile import CityProfile


def waiting_states(profile: CityProfile | None = None) -> list[str]:
    """The states in which a case still waits to be handled (case_workflow.yaml
    ``waiting_for_handling``: 立案, 派遣; see the module docstring), in ``profile``'s loop
    (None: the platform's file)."""
    from layers.cases.workflow import load_workflow, workflow_file

    return list(load_workflow(workflow_file(profile)).waiting)


def _table_exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def asset_layer(conn: psycopg.Connection, code: str, field: str = "asset_code") -> str:
    """The layer holding the current feature ``code`` (code registry first, else a look in
    every layer); an InputError naming ``field`` when no current feature has it."""
    reg = conn.execute("SELECT layer FROM code_registry WHERE code = %s", (code,)).fetchone()
    candidates = [reg[0]] if reg and reg[0] in LAYERS else list(LAYERS)
    for name in candidates:
        table = LAYERS[name].table
        if name == "cases" or not _table_exists(conn, table):
            continue
        if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table} "  # noqa: S608 (declared)
                        "WHERE code = %s AND valid_to IS NULL)", (code,)).fetchone()[0]:
            return name
    raise InputError(f"no current feature has code {shown(code)}", field=field)


def propose(conn: psycopg.Connection, cat: Category, layer: str | None,
            code: str | None) -> tuple[str, str]:
    """(unit, unit_basis) for a case of category ``cat`` on the asset ``code`` of ``layer``
    (or on no asset)."""
    if layer and code and cat.unit_fields:
        cols = set(LAYERS[layer].column_names())
        parts = [f"NULLIF(btrim({c}), '')" for basis in cat.unit_fields
                 for c in UNIT_BASES[basis] if c in cols]
        bases = [basis for basis in cat.unit_fields for c in UNIT_BASES[basis] if c in cols]
        if parts:
            row = conn.execute(
                f"SELECT {', '.join(parts)} FROM {LAYERS[layer].table} "  # noqa: S608
                "WHERE code = %s AND valid_to IS NULL", (code,)).fetchone()
            for basis, value in zip(bases, row or (), strict=False):
                if value:
                    return value, basis
    return cat.default_unit, "category"


def known_units(conn: psycopg.Connection, unit_roles: tuple[str, ...],
                profile: CityProfile | None = None) -> list[str]:
    """The units the platform knows, sorted: each active user's of a unit role (ops_users,
    处置单位: a unit someone can act for) and each category's default unit (the city's
    case_categories.csv: the units the platform itself proposes). A unit a 派遣员 names
    outside them — a typo, 环卫外 for 环卫处 — left the case with a unit no one acts for."""
    from layers.cases.categories import categories_file, load_categories

    rows = conn.execute("SELECT DISTINCT unit FROM ops_users WHERE revoked_at IS NULL "
                        "AND role = ANY(%s) AND unit IS NOT NULL", (list(unit_roles),))
    units = {r[0] for r in rows} | {c.default_unit
                                    for c in load_categories(categories_file(profile)).values()}
    return sorted(u for u in units if u)


def _platform_now(conn: psycopg.Connection) -> dt.datetime:
    """The platform's clock (the database's), which the case list's overdue filter and the
    actions' times read: the machine a command runs on may be ahead or behind it (a laptop a
    day ahead flagged every case due today overdue)."""
    return conn.execute("SELECT now()").fetchone()[0]


def overdue(conn: psycopg.Connection, now: dt.datetime | None = None,
            profile: CityProfile | None = None) -> list[dict[str, Any]]:
    """Current cases past their deadline and not handled yet, most overdue first, each with
    ``overdue_h`` (hours past the deadline at ``now``; None: the platform's clock)."""
    now = now or _platform_now(conn)
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        "SELECT code, state, category_code, category_name, grid_code, unit, registered_at, "
        "dispatched_at, deadline, round(extract(epoch FROM %(now)s - deadline)::numeric / 3600, "
        "2)::float AS overdue_h FROM cases WHERE valid_to IS NULL AND state = ANY(%(states)s) "
        "AND deadline < %(now)s ORDER BY deadline, code",
        {"now": now, "states": waiting_states(profile)}).fetchall()


OVERDUE_FLAG = "overdue"


def flag_overdue(conn: psycopg.Connection, now: dt.datetime | None = None,
                 profile: CityProfile | None = None) -> dict[str, int]:
    """Set the flag ``overdue`` on the cases overdue at ``now`` and drop it from the others;
    counts flagged, cleared and overdue (None: at the platform's clock)."""
    now = now or _platform_now(conn)
    p = {"now": now, "states": waiting_states(profile), "flag": OVERDUE_FLAG}
    late = "state = ANY(%(states)s) AND deadline < %(now)s"
    flagged = conn.execute(
        f"UPDATE cases SET flags = array_append(flags, %(flag)s) WHERE valid_to IS NULL "  # noqa: S608
        f"AND {late} AND NOT %(flag)s = ANY(flags)", p).rowcount
    cleared = conn.execute(
        f"UPDATE cases SET flags = array_remove(flags, %(flag)s) WHERE valid_to IS NULL "  # noqa: S608
        f"AND %(flag)s = ANY(flags) AND NOT ({late} AND deadline IS NOT NULL)", p).rowcount
    total = conn.execute(f"SELECT count(*) FROM cases WHERE valid_to IS NULL AND {late}",  # noqa: S608
                         p).fetchone()[0]
    # (run periodically, it keeps ``final`` in step with the city's loop too: cases filed
    # before migration 0018 under states a city renamed, or a loop whose final states changed)
    from layers.cases.workflow import load_workflow, workflow_file

    finals = list(load_workflow(workflow_file(profile)).final)
    restated = conn.execute(
        "UPDATE cases SET final = (state = ANY(%(f)s)) WHERE valid_to IS NULL "
        "AND final IS DISTINCT FROM (state = ANY(%(f)s))", {"f": finals}).rowcount
    return {"flagged": flagged, "cleared": cleared, "overdue": total, "final_restated": restated}
