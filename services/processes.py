"""OGC API - Processes Part 1 (core, JSON, OGC process description) on the platform's app.

The processes are the library's own (:func:`layers.processes.all_processes`: the one-map
queries, the network analyses, the approval check …), described from the JSON Schema each
declares and executed synchronously: ``POST /processes/<id>/execution`` with
``{"inputs": {...}}`` answers the process's result, the very JSON the CLI's ``--json`` prints.
These views replace pygeoapi's ``/processes`` and ``/jobs`` ones, which do not validate inputs.

Answers: inputs that break the schema, and the library's :class:`~cim.errors.InputError`
(bad geometry, unknown code …), and a value the database refuses (a number out of range, a
point PROJ cannot project: lon/lat given as lat/lon), are 400 with a message naming the input
or the value; an unknown process is 404; a query cancelled by the read-only role's statement timeout, or a database that cannot be
reached, is 503; anything else is logged with its traceback and answered 500 with one line.

Connections: a process runs with the app's read-only role. Only a process that declares
``"writes": True`` gets a writer's connection, and only when the operator gives one in
``CIM_PROCESS_WRITER_URL`` (the served process never holds the admin's password; without it
such a process runs as the reader and does not write). The approval check needs no writer: it
records each check as the reader, which may INSERT into ``approval_checks`` and no other table.
A process that declares ``"pooled": True`` (the query library's) runs on a connection of
the service's pool (one per thread, kept open): no connect and a warm backend each request,
which is most of a small query's time (AOI over HTTP: 95 → 20–23 ms median,
docs/benchmarks.md). The pool's connections never prepare statements (a generic plan for a
bound area is a poor one), and the library runs each call in its own READ ONLY transaction
with ``SET LOCAL`` settings.
Execution is synchronous only: no job is ever created, so ``/jobs/<id>`` is always 404.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from flask import Flask, Response, request

from cim.errors import CodeError, InputError
from cim.text import json_value, shown
from services.json_body import read_json
from services.openapi_paths import oas30_schema
from services.pool import Pool
from services.process_inputs import first_error, validator

LOG = logging.getLogger("cim.services.processes")
WRITER_URL_ENV = "CIM_PROCESS_WRITER_URL"
_OGC = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
CONFORMANCE = [_OGC + "core", _OGC + "json", _OGC + "ogc-process-description"]
_EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
REL_EXECUTE = "http://www.opengis.net/def/rel/ogc/1.0/execute"
JSON_TYPE = "application/json"
VERSION = "1.0.0"
OUTPUT = "result"
_ARGS = {"f", "lang"}
# jsonld: every pygeoapi page (the platform's _base.html) embeds its page's ?f=jsonld; the
# plain JSON answers it, as application/ld+json (a 400 was a failed request on every page)
_FORMATS = (None, "json", JSON_TYPE, "html", "jsonld")
JSONLD_TYPE = "application/ld+json"
_BODY_KEYS = {"inputs", "outputs", "response", "subscriber"}


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False, default=json_value), status=status,
                    content_type=JSON_TYPE)


def _error(status: int, code: str, message: str, type_: str | None = None) -> Response:
    """An exception document: the platform's code/description, and the OGC type URI."""
    doc = {"code": code, "description": message}
    if type_:
        doc["type"] = _EXC + type_
    return _json(doc, status)


class ProcessesService:
    """The process list, descriptions and synchronous execution of ``processes``."""

    def __init__(self, processes: dict[str, dict[str, Any]], conninfo: str, base_url: str,
                 writer_conninfo: str | None = None, pool_size: int = 4) -> None:
        self.processes = processes
        self.conninfo = conninfo
        self.pool = Pool(conninfo, pool_size, prepare_threshold=None)
        self.writer_conninfo = writer_conninfo
        self.base_url = base_url.rstrip("/")
        self.validators = {pid: validator(p["inputs"]) for pid, p in processes.items()}
        self.descriptions = {pid: self._describe(p) for pid, p in processes.items()}

    # -- descriptions ------------------------------------------------------------------------
    def _summary(self, p: dict[str, Any]) -> dict[str, Any]:
        href = f"{self.base_url}/processes/{p['id']}"
        out = {"id": p["id"], "title": p["title"], "version": p.get("version", VERSION),
               "jobControlOptions": ["sync-execute"], "outputTransmission": ["value"],
               "links": [{"href": href, "rel": "self", "type": JSON_TYPE,
                          "title": "process description"}]}
        if p.get("description"):  # (a docstring is the maintainer's, not the client's)
            out["description"] = p["description"]
        return out

    def _describe(self, p: dict[str, Any]) -> dict[str, Any]:
        schema = p["inputs"]
        required = set(schema.get("required", []))
        inputs = {}
        for name, prop in schema.get("properties", {}).items():
            inputs[name] = {"title": prop.get("title", name),
                            **({"description": prop["description"]}
                               if "description" in prop else {}),
                            # OGC API - Processes' schema.yaml is OpenAPI 3.0's dialect (one
                            # type, boolean exclusive limits): the OpenAPI document's conversion
                            "schema": oas30_schema(prop),
                            "minOccurs": 1 if name in required else 0,
                            "maxOccurs": 1}
        doc = self._summary(p)
        doc["inputs"] = inputs
        doc["outputs"] = {OUTPUT: {
            "title": "result", "description": "the result, as the CLI's --json prints it",
            "schema": {"type": "object", "contentMediaType": JSON_TYPE}}}
        doc["links"].append({"href": f"{self.base_url}/processes/{p['id']}/execution",
                             "rel": REL_EXECUTE, "type": JSON_TYPE,
                             "title": "execute (synchronous, JSON in and out)"})
        return doc

    # -- views -------------------------------------------------------------------------------
    def _bad_args(self, listing: bool = False) -> Response | None:
        known = _ARGS | ({"limit", "offset"} if listing else set())
        unknown = [k for k in request.args if k not in known]
        if unknown:
            return _error(400, "InvalidParameterValue",
                          f"unknown query parameter {', '.join(unknown)[:200]}; known here: "
                          f"{', '.join(sorted(known))}")
        f = request.args.get("f")
        if f not in _FORMATS:
            return _error(400, "InvalidParameterValue",
                          f"f={f[:40]}: json, html or jsonld (the process list and "
                          "descriptions)")
        return None

    def processes_view(self, process_id: str | None = None) -> Response:
        """``GET /processes`` and ``GET /processes/<id>``: JSON, or an HTML page for
        ``f=html`` or a browser's ``Accept`` (the landing page links ``/processes?f=html``,
        which was a 400 to a planner clicking it)."""
        bad = self._bad_args(listing=process_id is None)
        if bad is not None:
            return bad
        if process_id is None:
            return self._list()
        if process_id not in self.descriptions:
            return self._no_such(process_id)
        return _page("processes/process.html", self.descriptions[process_id])

    def _list(self) -> Response:
        """The process list, ``limit`` (1–10000, OGC API - Processes /req/core/pl-limit-
        definition) and ``offset`` long, with a ``next`` link while more remain."""
        try:
            limit = int(request.args.get("limit", 10000))
            offset = int(request.args.get("offset", 0))
        except ValueError:
            return _error(400, "InvalidParameterValue", "limit and offset are whole numbers")
        if not 1 <= limit <= 10000 or offset < 0:
            return _error(400, "InvalidParameterValue",
                          "limit is 1 to 10000, offset 0 or more")
        every = list(self.processes.values())
        links = [{"href": f"{self.base_url}/processes", "rel": "self", "type": JSON_TYPE,
                  "title": "processes"}]
        if offset + limit < len(every):
            links.append({"href": f"{self.base_url}/processes?limit={limit}&offset="
                                  f"{offset + limit}", "rel": "next", "type": JSON_TYPE,
                          "title": "the next processes"})
        doc = {"processes": [self._summary(p) for p in every[offset:offset + limit]],
               "links": links}
        return _page("processes/index.html", doc)

    def _no_such(self, process_id: str) -> Response:
        return _error(404, "NoSuchProcess",
                      f"no process {shown(process_id)}; processes: "
                      f"{', '.join(self.processes)}", "no-such-process")

    def execute_view(self, process_id: str) -> Response:
        """``POST /processes/<id>/execution``: validate, run, answer the result."""
        bad = self._bad_args()
        if bad is not None:
            return bad
        if process_id not in self.processes:
            return self._no_such(process_id)
        body, problem = self._body()
        if problem:
            return _error(400, "InvalidParameterValue", problem)
        inputs = body.get("inputs") or {}
        message = first_error(self.validators[process_id], inputs)
        if message:
            return _error(400, "InvalidParameterValue", f"{process_id}: {message}")
        result = self._run(process_id, inputs)
        if isinstance(result, Response):
            return result
        if body.get("response") == "document":
            return _json({OUTPUT: result})
        return _json(result)

    def _body(self) -> tuple[dict[str, Any], str | None]:
        raw = request.get_data(cache=False)
        if not raw.strip():
            return {}, None
        try:  # not JSON, or nested deeper than any input (a RecursionError, a 500, before)
            body = read_json(raw)
        except InputError as exc:
            return {}, str(exc)
        if not isinstance(body, dict):
            return {}, 'the request body must be a JSON object: {"inputs": {...}}'
        extra = [k for k in body if k not in _BODY_KEYS]
        if extra:
            return {}, (f"unknown key {', '.join(map(repr, extra))[:120]} in the request "
                        f"body; known: {', '.join(sorted(_BODY_KEYS))}")
        if not isinstance(body.get("inputs", {}), dict):
            return {}, '"inputs" must be a JSON object of input name → value'
        if body.get("response", "raw") not in ("raw", "document"):
            return {}, '"response" must be "raw" or "document"'
        outputs = body.get("outputs") or {}
        if not isinstance(outputs, dict) or any(k != OUTPUT for k in outputs):
            return {}, f'"outputs": the only output is {OUTPUT!r}'
        return body, None

    def _run(self, process_id: str, inputs: dict[str, Any]) -> Any:
        import psycopg

        p = self.processes[process_id]
        conninfo = (self.writer_conninfo if p.get("writes") and self.writer_conninfo
                    else self.conninfo)
        kw: dict[str, Any] = {}
        if p.get("city_clock"):  # the served city's clock (its profile's timezone)
            from services.items_query import city_zone

            kw["zone"] = city_zone()
        try:
            if p.get("pooled") and conninfo == self.conninfo:
                with self.pool.connection() as conn:
                    return p["run"](conn, inputs, **kw)
            return p["run"](conninfo, inputs, **kw)
        except (InputError, CodeError) as exc:
            return _error(400, "InvalidParameterValue", f"{process_id}: {_one_line(exc)}")
        except psycopg.errors.QueryCanceled:
            LOG.warning("process %s: statement timeout", process_id)
            return _error(503, "ServiceUnavailable",
                          f"{process_id}: the query ran longer than the server allows; "
                          "ask for a smaller area")
        except psycopg.OperationalError as exc:
            LOG.error("process %s: database unavailable: %s", process_id, _one_line(exc))
            return _error(503, "ServiceUnavailable",
                          f"{process_id}: the database cannot be reached")
        except Exception as exc:  # a bug: logged with its traceback, one line to the client
            if isinstance(exc, psycopg.Error) and (why := _bad_value(exc)) is not None:
                return _error(400, "InvalidParameterValue", f"{process_id}: {why}")
            LOG.exception("process %s failed (inputs: %s)", process_id, sorted(inputs))
            return _error(500, "NoApplicableCode",
                          f"{process_id}: internal error ({type(exc).__name__}; logged by "
                          "the server)")

    def jobs_view(self, job_id: str | None = None) -> Response:
        """No jobs: every execution is synchronous (the empty list is an HTML page too: each
        process page links to it)."""
        if job_id is None:
            return _page("jobs/index.html", {"jobs": [], "links": [
                {"href": f"{self.base_url}/jobs", "rel": "self", "type": JSON_TYPE}]})
        return _error(404, "NoSuchJob", f"no job {shown(job_id)}: processes run "
                                        "synchronously, no job is kept", "no-such-job")


# PostGIS's ST_Transform failure, PROJ's reason and errno after it (PostGIS 3.3 / PROJ 9:
# 'transform: Invalid coordinate (2049)' for a latitude of 116°, 'transform: Point outside of
# projection domain (2050)'); XX000 like every PostGIS error, so the text tells it apart
# ('ST_Transform: Input geometry has unknown (0) SRID' is a query's bug, not this)
TRANSFORM_FAILED = "transform: "
# the DataErrors a value given by the client causes: 22003 numeric value out of range,
# 22P02 invalid text representation; any other (22012 division by zero …) is a bug.
# PostGIS raises no 22023 for bad coordinates (it raises XX000: transform, above)
VALUE_STATES = frozenset({"22003", "22P02"})


def _page(template: str, doc: dict[str, Any]) -> Response:
    """``doc`` as JSON, or as pygeoapi's HTML page ``template`` when pygeoapi's request
    handling reads HTML from ``f`` or ``Accept`` (as its own pages do), in the request's
    language. Rendered with the server's templates (``server.templates``: the platform's
    offline ``_base.html``, :mod:`services.webmap`); pygeoapi's process view passed a
    resource's template setting, which for a process is none, so its own ``_base.html``,
    which loads Bootstrap from unpkg.com, would have been used."""
    api = getattr(sys.modules.get("pygeoapi.flask_app"), "api_", None)
    if api is None:  # an app without pygeoapi (unit tests of the views): JSON only
        return _json(doc)
    from pygeoapi.api import APIRequest
    from pygeoapi.util import render_j2_template

    req = APIRequest.from_flask(request, api.locales)
    if req.format == "jsonld":
        resp = _json(doc)
        resp.content_type = JSONLD_TYPE
        return resp
    if req.format != "html":
        return _json(doc)
    headers = req.get_response_headers(**api.api_headers)
    html = render_j2_template(api.tpl_config, api.config["server"].get("templates"), template,
                              doc, req.locale)
    return Response(html, status=200, headers=headers)


# pygeoapi's landing page shows its "processes" and "jobs" sections (the links a planner
# clicks) only when its configuration holds a resource of type process
LANDING_MARKER = "cim-processes"


def _show_on_landing_page() -> None:
    """Mark pygeoapi's configuration as having processes, so that its HTML landing page
    links ``/processes?f=html`` and ``/jobs?f=html`` (it hid them: the platform's processes
    are not pygeoapi's). The marker is added to the running configuration only, after
    pygeoapi built its process manager and OpenAPI document from the file, so nothing loads
    it as a plugin; pygeoapi's collection views list resources of type collection only, and
    its process, job and conformance views are the platform's."""
    api = getattr(sys.modules.get("pygeoapi.flask_app"), "api_", None)
    if api is not None:
        api.config["resources"].setdefault(LANDING_MARKER, {
            "type": "process", "title": "processes of the platform (services.processes)",
            "processor": {"name": "services.processes"}})


def _bad_value(exc: Exception) -> str | None:
    """What is wrong with the inputs when the database refused a value of theirs: a number out
    of range or text that is not one (:data:`VALUE_STATES`), or a point PROJ cannot project
    (PostGIS's :data:`TRANSFORM_FAILED`: a latitude of 116°, lon/lat given as lat/lon); None
    for any other database error — a bug (an undefined function or column, a division by
    zero …), answered 500 and logged, never reported as bad input."""
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    primary = exc.diag.message_primary or (str(exc).splitlines() or [""])[0]
    first = " ".join(primary.split())[:200] or type(exc).__name__
    if isinstance(exc, psycopg.errors.InternalError_) and primary.startswith(TRANSFORM_FAILED):
        return (f"coordinates that cannot be projected ({first}); lon/lat inputs are "
                "longitude first")
    if isinstance(exc, psycopg.errors.DataError) and exc.sqlstate in VALUE_STATES:
        return f"bad input value: {first}"
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:400] or type(exc).__name__


def register(app: Flask, conninfo: str, base_url: str,
             processes: dict[str, dict[str, Any]] | None = None,
             writer_url: str | None = None, pool_size: int = 4) -> ProcessesService:
    """Serve ``processes`` (default: every registered one) on ``app`` in place of
    pygeoapi's process and job views; declare the conformance classes passed.
    ``pool_size``: connections the pooled processes keep (the worker's threads)."""
    from cim.db.engine import psycopg_conninfo
    from layers.processes import all_processes

    writer_url = writer_url or os.environ.get(WRITER_URL_ENV) or None
    service = ProcessesService(all_processes() if processes is None else processes,
                               conninfo, base_url,
                               psycopg_conninfo(writer_url) if writer_url else None,
                               pool_size=pool_size)
    if not writer_url:
        writing = [pid for pid, p in service.processes.items() if p.get("writes")]
        if writing:
            LOG.info("processes %s run as the read-only role (no %s): they do not record",
                     ", ".join(writing), WRITER_URL_ENV)

    def jobs(job_id=None):
        return service.jobs_view(job_id)

    routes = [("pygeoapi.get_processes", "/processes", ["GET"], service.processes_view),
              ("pygeoapi.execute_process_jobs", "/processes/<process_id>/execution",
               ["POST"], service.execute_view),
              ("pygeoapi.get_jobs", "/jobs", ["GET", "DELETE"], jobs),
              ("pygeoapi.get_job_result", "/jobs/<job_id>/results", ["GET"], jobs)]
    for endpoint, rule, methods, view in routes:
        if endpoint in app.view_functions:  # pygeoapi's rule: answer it with the platform's
            app.view_functions[endpoint] = view
        else:
            app.add_url_rule(rule, endpoint="cim_" + endpoint.split(".")[-1],
                             view_func=view, methods=methods)
    if "pygeoapi.get_processes" not in app.view_functions:
        app.add_url_rule("/processes/<process_id>", endpoint="cim_get_process",
                         view_func=service.processes_view, methods=["GET"])
    _show_on_landing_page()
    conformance = app.config.setdefault("CIM_CONFORMANCE", [])
    conformance += [c for c in CONFORMANCE if c not in conformance]
    app.extensions["cim_processes"] = service
    return service
