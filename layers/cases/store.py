"""Opening a case and writing its audit trail: the one path every source takes (an inspector's
report, a 12345 hotline call, a sensor alarm from layers.iot).

A case is placed once, when it is opened: its point (given, else the asset's point on surface,
else the grid cell's), its district (the current level-3 division holding the point, else the
grid cell's) and its grid cell (the current cell holding the point, or the one given). Its
code comes from the one allocator (``cim.coding.allocate_codes``): prefix district + the
cases layer code (93, ``layers.csv``) + the category's major class, source key
``case:<uuid>`` (every report is a new case). The responsible unit is proposed at once
(:mod:`layers.cases.dispatch`) so the 派遣员 sees it; the deadline is set when the case is
registered (立案 + the category's time limit).

Functions here run inside the caller's transaction and never commit: an alarm, its case and
the risk point it raises are written together or not at all. Timestamps without a time zone
are taken as UTC.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from cim.coding import places
from cim.coding.allocator import allocate_codes
from cim.coding.scheme import FEATURE_SERIAL_WIDTH
from cim.errors import ConfigError, InputError
from cim.profile import DICTIONARY_DIR, read_csv_dictionary
from cim.text import shown
from layers.cases.categories import category
from layers.cases.dispatch import asset_layer, propose
from layers.query.sqlparts import storage_srid

if TYPE_CHECKING:
    from cim.profile import CityProfile

# the source the platform itself opens cases from (layers.iot, role system); the sources people
# report from are the workflow's ``sources`` (data: a city adds 领导交办, 媒体曝光 …)
SENSOR_SOURCE = "传感告警"
LAYER = "cases"
CONTACT_FIELDS = ("reporter_name", "phone", "reporter_user")
# the columns a case is shown with (geometry as x/y in the storage CRS)
CASE_COLUMNS = ("code, source, kind, category_code, category_name, state, description, "
                "address, district_code, grid_code, asset_layer, asset_code, alarm_code, unit, "
                "unit_basis, reported_at, registered_at, dispatched_at, handled_at, "
                "verified_at, closed_at, deadline, time_limit_h, flags, detail, "
                "ST_X(geom) AS x, ST_Y(geom) AS y")


class CaseNotFound(InputError):
    """No current case has the code (HTTP 404)."""


def layer_code(profile: CityProfile | None = None) -> str:
    """The cases layer's two-digit code (``layers.csv``, data): the city's layers dictionary
    as every loader reads its layer's code (:func:`cim.coding.scheme.layer_code_of`), so that
    ``cim code explain`` decodes a case's code as it was made; without a profile the
    platform's file."""
    if profile is not None:
        from cim.coding.scheme import layer_code_of

        return layer_code_of(profile, LAYER)
    for row in read_csv_dictionary(DICTIONARY_DIR / "layers.csv"):
        if row.get("layer") == LAYER:
            return row["layer_code"]
    raise ConfigError("layers.csv has no row for the cases layer",
                      path=str(DICTIONARY_DIR / "layers.csv"), field="layer")


def utc(t: dt.datetime | None) -> dt.datetime | None:
    """``t`` with a time zone (naive is UTC)."""
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=dt.UTC)
    return t


def city_time(t: dt.date | dt.datetime | None, zone: str,
              field: str | None = None) -> dt.datetime | None:
    """A time a person typed, on the city's clock: :func:`cim.cityclock.city_time`. A
    date-time without an offset that the clock showed twice (the clocks went back over it)
    or never (they skipped it) is an InputError naming ``field``, as ``cim iot import``
    refuses such a reading: read as one of the two, or as an hour that did not exist, it
    was silently an hour off."""
    from cim.cityclock import city_time as on_city_clock

    if isinstance(t, dt.datetime) and t.tzinfo is None:
        from layers.iot.times import local_problem

        problem = local_problem(t, zone)
        if problem is not None:
            raise InputError(problem, field=field)
    return on_city_clock(t, zone)


def zone_of(profile: CityProfile | None) -> str:
    """The clock a city's people read times on: its profile's ``timezone`` (None: China's, as
    the served app without a profile reads them)."""
    from cim.cityclock import CHINA_TIME

    return profile.timezone if profile is not None else CHINA_TIME


def instant_text(t: dt.datetime, zone: str) -> str:
    """An instant as a message to a person names it: on the city's clock ``zone`` with its
    offset, the UTC instant (as ``--json`` and the HTTP answers write it) in brackets — the
    form of ``cim case``'s text (:func:`layers.cases.cli._t`). The session's UTC alone named a
    time the 受理员 typed as 09:30 in China 01:30. A fraction of a second is kept when there is
    one: two times within one second, cut to it, would read equal in a refusal saying one is
    before the other."""
    from cim.cityclock import on_city_clock

    spec = "seconds" if t.microsecond == 0 else "microseconds"
    local = on_city_clock(t, zone)
    text = local.isoformat(timespec=spec)
    if local.utcoffset():
        text += f" ({t.astimezone(dt.UTC).isoformat(timespec=spec)})"
    return text


def not_in_future(conn: psycopg.Connection, t: dt.datetime | None, field: str,
                  zone: str) -> None:
    """An InputError naming ``field`` when ``t`` is after the platform's clock: a case's
    times are when things happened, and one ahead of the clock locks the case (every later
    action, at the time it is made, would be before it and refused). Both times are named on
    the city's clock ``zone``."""
    if t is None:
        return
    if t < dt.datetime(1900, 1, 1, tzinfo=dt.UTC):  # 0001-01-01 was an internal error
        raise InputError(f"time {t.isoformat()} is before 1900: a case's times are when "
                         "things happened", field=field)
    now = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    if t > now:
        raise InputError(f"time {instant_text(t, zone)} is after now "
                         f"({instant_text(now, zone)}): a case's times are when things "
                         "happened (give none for now; a time without an offset is the "
                         "city's clock)", field=field)


def record_event(conn: psycopg.Connection, case_id: int, *, at: dt.datetime, actor: str,
                 role: str, action: str, from_state: str | None, to_state: str,
                 note: str | None = None, detail: dict | None = None) -> None:
    """One row of the audit trail (``case_events``)."""
    conn.execute("INSERT INTO case_events (case_id, at, actor, role, action, from_state, "
                 "to_state, note, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 (case_id, at, actor, role, action, from_state, to_state, note,
                  Jsonb(detail or {})))


def _place(conn: psycopg.Connection, srid: int, point: tuple[float, float] | None,
           grid_code: str | None, layer: str | None,
           asset_code: str | None, strict: bool = True) -> tuple[str, str, str | None]:
    """(geometry as hex EWKB, district code, grid code) of a new case. A grid cell given with
    a point or an asset must contain it (``strict``, a person's report: an InputError naming
    the cell it lies in), else the cell it lies in wins (a sensor's registered cell)."""
    from cim.layerdefs import LAYERS

    grid = None
    if grid_code:
        grid = conn.execute("SELECT district_code, ST_PointOnSurface(geom) FROM grid_cells "
                            "WHERE code = %s AND valid_to IS NULL", (grid_code,)).fetchone()
        if grid is None:
            raise InputError(f"no current grid cell has code {shown(grid_code)}", field="grid")
    if point is not None:
        try:
            x, y = (float(v) for v in point)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"point {shown(point)} is not two numbers x, y",
                             field="point") from None
        if not (math.isfinite(x) and math.isfinite(y)):  # --point nan,nan read as floats
            raise InputError(f"point {x:g}, {y:g} is not two finite numbers", field="point")
        geom = conn.execute("SELECT ST_SetSRID(ST_MakePoint(%s, %s), %s)",
                            (x, y, srid)).fetchone()[0]
    elif layer is not None:
        geom = conn.execute(f"SELECT {places.asset_point_sql('geom')} "  # noqa: S608
                            f"FROM {LAYERS[layer].table} "
                            "WHERE code = %s AND valid_to IS NULL", (asset_code,)).fetchone()[0]
    elif grid is not None:
        geom = grid[1]
    else:
        raise InputError("a case needs a place: a point, a grid cell or an asset code",
                         field="point")
    district, cell = conn.execute(
        "SELECT p.district, " + places.grid_sql("p.g", "p.district") + " FROM (SELECT "
        + places.district_sql("q.g") + " AS district, q.g FROM (SELECT %(g)s::geometry AS g) "
        "q) p", {"g": geom}).fetchone()
    if grid_code and cell and cell != grid_code and (point is not None or layer is not None) \
            and not conn.execute("SELECT ST_Intersects(geom, %s::geometry) FROM grid_cells "
                                 "WHERE code = %s AND valid_to IS NULL",
                                 (geom, grid_code)).fetchone()[0]:
        # the place and the cell given disagree: filed under the cell, the case would be
        # counted (and listed) in a cell it is not in
        if strict:
            raise InputError(f"the case's {'point' if point is not None else 'asset'} lies in "
                             f"grid cell {cell}, not in the grid cell given ({grid_code}); give "
                             "one of them", field="grid")
        grid_code = None  # the cell the place lies in
    cell = grid_code or cell
    if grid is not None and district is None:
        district = grid[0]
    if district is None and cell is not None:
        district = conn.execute("SELECT district_code FROM grid_cells WHERE code = %s "
                                "AND valid_to IS NULL", (cell,)).fetchone()[0]
    if district is None:
        raise InputError("the case's place lies in no district of the city"
                         + (_point_hint(conn, srid, x, y) if point is not None else ""),
                         field="point" if point is not None else "asset")
    return geom, district, cell


def _point_hint(conn: psycopg.Connection, srid: int, x: float, y: float) -> str:
    """Why a point given without a CRS (or placed from one) may lie outside: a point without
    a CRS is x = easting, y = northing of the storage CRS, and a reporter's GPS longitude,
    latitude, or a surveyor's X (northing), Y (easting), lands far outside the city."""
    where = f" (point {x:.12g}, {y:.12g} in EPSG:{srid}: x the easting, y the northing)"
    if -180 <= x <= 180 and -90 <= y <= 90:
        return (where + "; a longitude, latitude needs its CRS: --crs CRS84 on the command "
                "line, \"crs\": \"CRS84\" in the request")
    swapped = conn.execute("SELECT EXISTS (SELECT 1 FROM admin_divisions WHERE valid_to IS NULL "
                           "AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), %s)))",
                           (y, x, srid)).fetchone()[0]
    if swapped:
        return where + "; x and y swapped? it lies in the city as y, x (a surveyor's X is the northing)"
    return where


def _new_code(conn: psycopg.Connection, prefix: str) -> str:
    conn.execute("DROP TABLE IF EXISTS _case_stg")
    conn.execute("CREATE TEMP TABLE _case_stg (row_no bigint, source_key text, prefix text, "
                 "code text) ON COMMIT DROP")
    conn.execute("INSERT INTO _case_stg VALUES (1, %s, %s, NULL)",
                 (f"case:{uuid.uuid4()}", prefix))
    allocate_codes(conn, "_case_stg", LAYER, FEATURE_SERIAL_WIDTH, None)
    code = conn.execute("SELECT code FROM _case_stg").fetchone()[0]
    conn.execute("DROP TABLE _case_stg")
    return code


def open_case(conn: psycopg.Connection, *, source: str, category_code: str, actor: str,
              role: str, point: tuple[float, float] | None = None,
              grid_code: str | None = None, address: str | None = None,
              description: str | None = None, asset_code: str | None = None,
              alarm_code: str | None = None, reported_at: dt.datetime | None = None,
              register: bool = False, contact: dict | None = None,
              grid_hint: bool | None = None, profile: CityProfile | None = None,
              registered_at: dt.datetime | None = None) -> dict:
    """Open a case (state 上报, or 立案 at once with ``register``: a sensor alarm); the case row
    as a dict. ``point`` is x, y in the storage CRS. A ``grid_code`` given with a point or an
    asset must contain it (else an InputError), unless it is a hint (``grid_hint``, default
    for the ``system`` role: a sensor's registered cell; a geocoded place's): then the cell
    the place lies in wins. ``profile``: the city whose loop, categories and layer codes the
    case follows (None: the platform's files). ``registered_at`` (with ``register``): when
    the platform registered it, if later than the report — a sensor's reading relayed late
    is reported at its time (when it happened) but people can act only from its receipt, so
    the 立案 and the deadline (立案 + time limit) count from then, not from hours before it
    arrived. Runs in the caller's transaction."""
    from layers.cases.sources import settings
    from layers.cases.workflow import load_workflow, workflow_file

    wf = load_workflow(workflow_file(profile))
    reported, registered = wf.initial, wf.registered  # 上报, 立案 (case_workflow.yaml)
    sources = (SENSOR_SOURCE, *settings(workflow_file(profile))["sources"])
    if source not in sources:
        raise InputError(f"unknown source {shown(source)}; sources: {', '.join(sources)}",
                         field="source")
    if not (actor or "").strip():
        raise InputError("a case is reported by someone (actor)", field="actor")
    cat = category(category_code, profile=profile)
    reported_at = utc(reported_at)
    not_in_future(conn, reported_at, "at", zone_of(profile))
    layer = asset_layer(conn, asset_code, "asset") if asset_code else None
    srid = storage_srid(conn)
    geom, district, cell = _place(conn, srid, point, grid_code, layer, asset_code,
                                  strict=not (role == "system" if grid_hint is None
                                              else grid_hint))
    code = _new_code(conn, f"{district}{layer_code(profile)}{cat.major_code}")
    reported_at = utc(reported_at) or conn.execute("SELECT now()").fetchone()[0]
    unit, basis = propose(conn, cat, layer, asset_code)
    if register:
        registered_at = utc(registered_at)
        not_in_future(conn, registered_at, "registered_at", zone_of(profile))
        registered_at = max(reported_at, registered_at) if registered_at else reported_at
    else:
        registered_at = None
    deadline = registered_at + dt.timedelta(hours=cat.time_limit_h) if register else None
    opened_in = registered if register else reported
    case_id = conn.execute(
        "INSERT INTO cases (code, geom, source, kind, category_code, category_name, state, "
        "description, address, district_code, grid_code, asset_layer, asset_code, alarm_code, "
        "unit, unit_basis, reported_at, registered_at, deadline, time_limit_h, final) VALUES "
        "(%s, %s::geometry, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s, %s) RETURNING id",
        (code, geom, source, cat.kind, cat.code, cat.name, opened_in, description, address,
         district, cell, layer, asset_code, alarm_code, unit, basis, reported_at,
         registered_at, deadline, cat.time_limit_h, opened_in in wf.final)).fetchone()[0]
    # the description stays on the case (not published: a citizen's words may name people)
    record_event(conn, case_id, at=reported_at, actor=actor, role=role, action="report",
                 from_state=None, to_state=reported, detail={"source": source})
    if register:
        record_event(conn, case_id, at=registered_at, actor=actor, role=role, action="register",
                     from_state=reported, to_state=registered, note=None)
    if contact:
        unknown = set(contact) - set(CONTACT_FIELDS)
        if unknown:
            names = sorted(unknown)
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            raise InputError(f"unknown contact fields {', '.join(map(shown, names[:5]))}{more}"
                             "; fields: "
                             f"{', '.join(CONTACT_FIELDS)}", field="contact")
        bad = next((k for k, v in contact.items() if v is not None and not isinstance(v, str)),
                   None)
        if bad is not None:
            raise InputError(f"contact {bad} is text, not {type(contact[bad]).__name__}",
                             field=f"contact.{bad}")
        conn.execute("INSERT INTO case_contacts (case_id, reporter_name, phone, reporter_user) "
                     "VALUES (%s, %s, %s, %s)",
                     (case_id, *(contact.get(f) for f in CONTACT_FIELDS)))
    return get_case(conn, code)


def case_id(conn: psycopg.Connection, code: str) -> int:
    """The id of the current case ``code``; an InputError naming the code if none."""
    row = conn.execute("SELECT id FROM cases WHERE code = %s AND valid_to IS NULL",
                       (code,)).fetchone()
    if row is None:
        raise CaseNotFound(f"no case has code {shown(code)}", field="code")
    return row[0]


def get_case(conn: psycopg.Connection, code: str, *, events: bool = False,
             contacts: bool = False) -> dict[str, Any]:
    """The case ``code`` as a dict; with its audit trail (oldest first) and, for staff, the
    reporter's contact and the list of attachments."""
    cur = conn.cursor(row_factory=dict_row)
    row = cur.execute(f"SELECT id, {CASE_COLUMNS} FROM cases "  # noqa: S608 (constant)
                      "WHERE code = %s AND valid_to IS NULL", (code,)).fetchone()
    if row is None:
        raise CaseNotFound(f"no case has code {shown(code)}", field="code")
    cid = row.pop("id")
    if events:
        row["events"] = cur.execute(
            "SELECT at, actor, role, action, from_state, to_state, note, detail "
            "FROM case_events WHERE case_id = %s ORDER BY at, id", (cid,)).fetchall()
    if contacts:
        row["contact"] = cur.execute(
            "SELECT reporter_name, phone, reporter_user FROM case_contacts WHERE case_id = %s",
            (cid,)).fetchone()
        row["attachments"] = cur.execute(
            "SELECT id, name, media_type, sha256, length(content) AS bytes, created_at "
            "FROM case_attachments WHERE case_id = %s ORDER BY id", (cid,)).fetchall()
    return row
