"""Sensor readings over HTTP (issue 14): ingest, latest value, time series, alarms.

- ``POST /iot/readings`` — header ``X-API-Key`` of a reading source (``cim iot source add``);
  JSON ``{"readings": [{"sensor": code or device id, "time": ISO 8601 with offset,
  "value": number}, …]}`` (a value is a JSON number, never a text); answers the ingest's
  counts (:func:`layers.iot.ingest.ingest`, the path ``cim iot import`` takes too: readings
  of one sensor and time with different values, or with another value than the stored one,
  are not stored and listed in ``conflicts`` by their item ``index``). 401 without or with
  an unknown key, 403 for a revoked key or a sensor bound to another source, 400 naming the
  item (``readings[3].time``) and what is wrong, 409 when a month has no readings partition
  (the owner runs ``cim iot partitions``; the served role cannot create one).
- ``GET /iot/sensors/<code>/latest`` — the sensor's latest reading and alarm state (``code``
  a sensor code or device id; one holding '/' written as is or as %2F: :class:`SensorRef`).
- ``GET /iot/sensors/<code>/readings?start=&end=&limit=`` — its series (default: the last 24 h);
  with ``bucket=15min|1h|1d|1w`` aggregated by time bucket in the city's clock (the profile's
  timezone: a day bucket starts at local midnight): count, min, avg and max per bucket
  (:func:`layers.iot.series.buckets`; ``limit`` caps the buckets the range may span).
- ``GET /iot/alarms?status=active|cleared&sensor=&limit=`` — alarms, latest first; an alarm
  a late reading opened for the past says so (``reported_late``: ``reading_at``,
  ``received_at``), one late readings found to have begun earlier its ``began_at``.

The app connects as the read-only role; the ingest opens its transaction READ WRITE (the role
may INSERT readings and write sensor_state, alarms and the case tables only:
cim/db/roles.py). Each route declares its query parameters for :mod:`services.guard`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from flask import Blueprint, Flask, Response, request
from werkzeug.routing import PathConverter

from cim.errors import CimError, InputError
from cim.text import json_value, named, shown
from layers.iot.times import sub_microsecond_problem
from services import openapi_paths as oas
from services.json_body import check_texts, read_json
from services.pool import Pool

if TYPE_CHECKING:
    from cim.profile import CityProfile

LOG = logging.getLogger("cim.services.iot")
BP = "iot_api"
PARAMS = {
    f"{BP}.readings": set(),
    f"{BP}.latest": set(),
    f"{BP}.series": {"start", "end", "limit", "bucket"},
    f"{BP}.alarms": {"status", "sensor", "limit"},
}
ITEM_FIELDS = {"sensor", "time", "value"}
# a time of a URL's query whose UTC offset's '+' was typed unencoded in the address bar: form
# decoding made it a space (2026-12-01T08:00:00 08:00)
_SPACED_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) "
                            r"(\d{2}(?::?\d{2})?)")
MAX_READINGS = 50_000  # per request
# the body's limit: room for MAX_READINGS readings as senders write them (a reading of compact
# JSON is ~70 bytes, indented ~130): the server's 1 MiB general limit took ~15,000 (a 413)
READINGS_BODY_BYTES = MAX_READINGS * 200
UNKNOWN_FIELDS = 20  # a body's unknown fields named in its 400
WRITE_ATTEMPTS = 3  # a write aborted by a deadlock runs again (IotService.run)


def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=json_value), status=status,
                    content_type="application/json", headers=headers)


def _error(status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'} if status == 401 else None
    return _json({"code": code, "description": message}, status, headers)


class _Status(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def parse_readings(raw: bytes) -> list[tuple[str, dt.datetime, float]]:
    """The body's readings; an InputError naming the item index and field."""
    body = read_json(raw)  # not JSON, or nested deeper than a reading: a 400 naming body
    if not isinstance(body, dict) or not isinstance(body.get("readings"), list):
        raise InputError('the body is {"readings": [{"sensor", "time", "value"}, …]}',
                         field="readings")
    extra = sorted(set(body) - {"readings"})
    if extra:
        raise InputError(f"unknown fields {', '.join(named(k) for k in extra[:UNKNOWN_FIELDS])}",
                         field=named(extra[0]))
    items = body["readings"]
    if len(items) > MAX_READINGS:
        raise InputError(f"at most {MAX_READINGS} readings per request, not {len(items)}",
                         field="readings")
    out = []
    fromiso = dt.datetime.fromisoformat
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise InputError("a reading is an object {sensor, time, value}",
                             field=f"readings[{i}]")
        if len(it) != 3 or it.keys() != ITEM_FIELDS:
            missing = sorted(ITEM_FIELDS - it.keys())
            name = missing[0] if missing else sorted(it.keys() - ITEM_FIELDS)[0]
            raise InputError("missing" if missing else "unknown field; a reading has sensor, "
                             "time and value", field=f"readings[{i}].{named(name)}")
        s, t, v = it["sensor"], it["time"], it["value"]
        if not isinstance(s, str) or not s.strip():
            raise InputError(f"{shown(s)} is not a sensor code or device id",
                             field=f"readings[{i}].sensor")
        try:
            ts = fromiso(t)
        except (TypeError, ValueError):
            ts = None
        if ts is None:
            raise InputError(f"{shown(t)} is not ISO 8601 with a UTC offset",
                             field=f"readings[{i}].time")
        if ts.tzinfo is None:  # it is ISO 8601: said so, a sender looked for a format error
            raise InputError(f"{shown(t)} has no UTC offset: write the instant with its offset "
                             "(2026-12-01T08:00:00+08:00, or Z for UTC)",
                             field=f"readings[{i}].time")
        problem = sub_microsecond_problem(t)  # fromisoformat cut them without a word
        if problem is not None:
            raise InputError(problem, field=f"readings[{i}].time")
        # a JSON number only (a text such as "1_5" or "1,5" is refused, never read); an integer
        # beyond a double's range is no finite number (float() raised OverflowError: a 500)
        try:
            f = None if isinstance(v, bool) or not isinstance(v, int | float) else float(v)
        except OverflowError:
            f = None
        if f is None or not math.isfinite(f):
            huge = f is None and isinstance(v, int) and not isinstance(v, bool)
            quoted = f"an integer of {len(str(abs(v)))} digits" if huge else shown(v)
            raise InputError(f"{quoted} is not a finite number", field=f"readings[{i}].value")
        out.append((s, ts, f))
    return out


class IotService:
    def __init__(self, conninfo: str, pool_size: int, profile_path: str | None = None) -> None:
        # prepared statements: the ingest's statements are constant texts
        self.pool = Pool(conninfo, pool_size)
        self.profile_path = profile_path

    def run(self, fn: Callable[[psycopg.Connection], Response], write: bool) -> Response:
        """``fn`` in one transaction; a write the database aborted in a deadlock (two batches
        opening alarms lock code counters and risk points in different orders) is run again
        (the ingest is idempotent), at most ``WRITE_ATTEMPTS`` times, then a 503."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return self._run_once(fn, write)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                if not write or attempt == WRITE_ATTEMPTS:
                    LOG.warning("%s: deadlock, %d attempt(s)", request.path, attempt)
                    return _error(503, "ServiceUnavailable", "the database was busy with a "
                                  "conflicting batch; send it again (nothing was written)")
        raise AssertionError("unreachable")

    def _run_once(self, fn: Callable[[psycopg.Connection], Response], write: bool) -> Response:
        from layers.iot.ingest import Forbidden, NoPartition

        try:
            # a code of the path or a parameter holding a NUL (or half a character): the
            # database's text cannot hold it (/iot/sensors/%00/latest was a 500)
            check_texts(dict(request.view_args or {}), "")
            for k, v in request.args.items(multi=True):
                check_texts(v, k)
            with self.pool.connection() as conn, conn.transaction():
                if write:
                    conn.execute("SET TRANSACTION READ WRITE")
                return fn(conn)
        except _Status as exc:
            return _error(exc.status, exc.code, str(exc))
        except Forbidden as exc:
            return _error(403, "Forbidden", exc.message)
        except NoPartition as exc:
            return _error(409, "Conflict", exc.message)
        except InputError as exc:
            return _error(400, "InvalidParameterValue", str(exc))
        except CimError:  # a broken file or registry row: the server's problem, not the input's
            LOG.exception("%s failed", request.path)
            return _error(500, "NoApplicableCode", "internal error (logged by the server)")
        except psycopg.errors.QueryCanceled:
            return _error(503, "ServiceUnavailable", "the query ran longer than allowed")

    def readings(self) -> Response:
        key = request.headers.get("X-API-Key", "").strip()
        if not key:
            return _error(401, "Unauthorized", "this request needs the header X-API-Key")

        def go(conn):
            from layers.iot.ingest import BadReading, ingest
            from layers.iot.sources import source_of_key

            # who is asking first: an unknown or revoked key learns nothing about its body
            src = source_of_key(conn, key)
            if src is None:
                raise _Status(401, "Unauthorized", "the API key is unknown")
            if src.revoked:
                raise _Status(403, "Forbidden", f"the API key of source {src.name!r} is "
                                                "revoked")
            rows = parse_readings(request.get_data())  # kept: a deadlocked batch runs again
            from layers.iot.thresholds import cached_config

            try:
                return _json(ingest(conn, rows, source=src.name,
                                    config=cached_config(self.profile_path)))
            except BadReading as exc:  # by its index in the batch: the body's item
                item = f"readings[{exc.row}]"
                raise InputError(exc.message, field=f"{item}.{exc.field}" if exc.field
                                 else item) from None
        return self.run(go, write=True)

    def latest(self, code: str) -> Response:
        def go(conn):
            from layers.iot.series import latest

            try:
                rows = latest(conn, code)
            except InputError as exc:
                raise _Status(404, "NotFound", exc.message) from None
            return _json(rows[0])
        return self.run(go, write=False)

    def series(self, code: str) -> Response:
        def go(conn):
            from layers.iot.series import sensor_code, series
            from layers.iot.thresholds import cached_config

            a = request.args
            zone = cached_config(self.profile_path).timezone
            end = _when(a.get("end"), "end", zone) or dt.datetime.now(dt.UTC)
            start = _when(a.get("start"), "start", zone) or end - dt.timedelta(days=1)
            try:
                limit = int(a.get("limit", "10000"))
            except ValueError:
                raise InputError("limit is an integer", field="limit") from None
            try:
                sensor_code(conn, code)
            except InputError as exc:
                raise _Status(404, "NotFound", exc.message) from None
            bucket = a.get("bucket")
            if bucket is not None:  # aggregated in the city's clock (its profile's zone)
                from layers.iot.series import buckets

                return _json(buckets(conn, code, start, end, bucket, zone, limit))
            return _json(series(conn, code, start, end, limit))
        return self.run(go, write=False)

    def alarms(self) -> Response:
        def go(conn):
            from layers.iot.alarms import list_alarms

            a = request.args
            status = a.get("status")
            if status not in (None, "active", "cleared"):
                raise InputError("status is active or cleared", field="status")
            try:
                limit = int(a.get("limit", "1000"))
                if not 1 <= limit <= 10_000:
                    raise ValueError
            except ValueError:
                raise InputError("limit is an integer 1..10000", field="limit") from None
            rows = list_alarms(conn, status=status, sensor=a.get("sensor"), limit=limit)
            return _json({"alarms": rows, "numberReturned": len(rows)})
        return self.run(go, write=False)


def query_time(value: str) -> str:
    """A time of a URL's query as the user typed it: the '+' of an offset typed unencoded
    (``?start=2026-12-01T08:00:00+08:00`` in the address bar) arrives as a space and is put
    back; anything else is returned as it is."""
    m = _SPACED_OFFSET.fullmatch(value)
    return f"{m.group(1)}+{m.group(2)}" if m else value


def _when(value: str | None, name: str, zone: str) -> dt.datetime | None:
    """A query's time: ISO 8601, without an offset on the city's clock ``zone``
    (:func:`cim.cityclock.city_time`), as /cases/evaluation's period is."""
    from cim.cityclock import city_time

    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(query_time(value))
    except ValueError:
        raise InputError(f"{shown(value)} is not ISO 8601 (2026-12-01T08:00, "
                         "2026-12-01T08:00+08:00)", field=name) from None
    problem = sub_microsecond_problem(value)  # a bound cut would take in another reading
    if problem is not None:
        raise InputError(problem, field=name)
    return city_time(t, zone)


class SensorRef(PathConverter):
    """A sensor code or device id in a path: any text, '/' too, written as is or as %2F
    (the path's last segment, latest or readings, says which route), a leading one too."""

    regex = ".+?"
    part_isolating = False  # werkzeug takes a regex without '/' for one segment otherwise


def register(app: Flask, *, conninfo: str, pool_size: int,
             profile: CityProfile | None = None) -> IotService:
    """Serve the readings API on ``app`` (see the module docstring); thresholds and levels
    from ``profile``'s dictionaries (a CityProfile; None: the platform's)."""
    from services import guard

    service = IotService(conninfo, pool_size,
                         str(profile.path) if profile is not None else None)
    bp = Blueprint(BP, __name__)
    app.url_map.converters["sensor_ref"] = SensorRef
    bp.add_url_rule("/iot/readings", "readings", service.readings, methods=["POST"])
    # a device id may hold '/' (JN/RQ/0001, a vendor's): the server decodes %2F before the
    # routing, so '<code>' (no '/') answered 404 for every such sensor and an id with '//' was
    # redirected to one '/' (merge_slashes), another sensor or none
    for rule, name, view in (("/iot/sensors/<sensor_ref:code>/latest", "latest", service.latest),
                             ("/iot/sensors/<sensor_ref:code>/readings", "series",
                              service.series)):
        bp.add_url_rule(rule, name, view, methods=["GET"], merge_slashes=False)
    bp.add_url_rule("/iot/alarms", "alarms", service.alarms, methods=["GET"])
    app.register_blueprint(bp)
    guard.STRICT_PARAMS.update(PARAMS)
    guard.BODY_LIMITS[f"{BP}.readings"] = READINGS_BODY_BYTES
    app.extensions["cim_iot"] = service
    return service


# -- the routes in the served OpenAPI document (services.openapi_paths reads this) ---------
_ERRORS = {"400": "bad input (the message names the item index and field)",
           "401": "no X-API-Key, or an unknown key",
           "403": "a revoked key, or a sensor bound to another reading source",
           "404": "no current sensor has this code or device id",
           "409": "a month without a readings partition: the owner runs "
                  "`cim iot partitions`"}


def _doc() -> dict[str, dict]:
    def ok(text: str) -> dict:
        return {"200": oas.ok(text)}

    def errors(*codes: str) -> dict:
        return oas.errors(_ERRORS, *codes)

    def q(name: str, text: str, schema: dict | None = None) -> dict:
        return oas.param(name, "query", text, schema)

    sensor = oas.param("code", "path", "sensor code or device id; a '/' in a device id "
                   "(JN/RQ/0001) percent-encoded as %2F or written as is")
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["readings"], "properties": {"readings": {
            "type": "array", "maxItems": MAX_READINGS, "items": {
                "type": "object", "required": ["sensor", "time", "value"], "properties": {
                    "sensor": {"type": "string", "description": "sensor code or device id"},
                    "time": {"type": "string", "format": "date-time",
                             "description": "ISO 8601 with a UTC offset"},
                    "value": {"type": "number"}}}}}}}}}
    tags = ["iot"]
    return {
        "/iot/readings": {"post": {
            "summary": "Send sensor readings (header X-API-Key of a reading source); "
                       "idempotent on sensor + time; answers the ingest's counts",
            "tags": tags, "requestBody": body,
            "parameters": [oas.param("X-API-Key", "header", "the reading source's API key",
                                 required=True)],
            "responses": {**ok("received, inserted, duplicates, conflicting, unknown_sensor, "
                               "late, alarms_opened, alarms_escalated, alarms_cleared, "
                               "gaps_cleared, cases_opened, late_alarms_opened (of "
                               "alarms_opened: episodes in the past found by late readings), "
                               "unknown, conflicts (a sensor and "
                               "time sent with different values, or with another value than "
                               "stored: not stored, listed by item index)"),
                          **errors("400", "401", "403", "409")}}},
        "/iot/sensors/{code}/latest": {"get": {
            "summary": "A sensor's latest reading and alarm state", "tags": tags,
            "parameters": [sensor], "responses": {**ok("the latest reading"),
                                                  **errors("404")}}},
        "/iot/sensors/{code}/readings": {"get": {
            "summary": "A sensor's readings from start (included) to end (excluded), oldest "
                       "first (default: the last 24 hours)", "tags": tags,
            "parameters": [sensor, q("start", "ISO 8601; without an offset on the city's "
                                     "clock (the profile's timezone)", {"type": "string"}),
                           q("end", "ISO 8601; without an offset on the city's clock",
                             {"type": "string"}),
                           q("limit", "at most this many readings, or with bucket: buckets "
                                      "the range may span (1..100000, default 10000)",
                             {"type": "integer"}),
                           q("bucket", "aggregate by time bucket in the city's clock (its "
                                       "profile's timezone; a day starts at local midnight): "
                                       "a number and s, min, h, d or w (15min, 1h, 1d); a "
                                       "bucket under a day divides the day. Each bucket with "
                                       "readings: start, end, count, min, avg, max; the range "
                                       "is widened to whole buckets",
                             {"type": "string", "pattern": "^[0-9]+ ?[a-zA-Z]+$"})],
            "responses": {**ok("the series, or its buckets"), **errors("400", "404")}}},
        "/iot/alarms": {"get": {
            "summary": "Alarms, latest first", "tags": tags,
            "parameters": [q("status", "active or cleared",
                             {"type": "string", "enum": ["active", "cleared"]}),
                           q("sensor", "sensor code or device id"),
                           q("limit", "at most this many (1..10000)", {"type": "integer"})],
            "responses": {**ok("the alarms (each with cleared_reason, reported_late "
                               "{reading_at, received_at} and began_at, null when not "
                               "so)"), **errors("400")}}},
    }


OPENAPI_PATHS = _doc()
