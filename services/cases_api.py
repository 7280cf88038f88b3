"""The case loop over HTTP (issue 14): report, act, read, list, evaluate.

- ``POST /cases`` — open a case from a person (巡查上报 by a 监督员, 市民热线 by a 受理员);
  JSON ``{source, category, point: [x, y], crs, grid, asset, address, description,
  contact: {reporter_name, phone}, photos: [{name, content_base64}]}``.
- ``POST /cases/<code>/actions/<action>`` — register, dispatch, handle, verify, close,
  return, void; JSON ``{note, unit, result}``.
- ``GET /cases/<code>`` — the case with its audit trail; the reporter's contact, the
  attachments, the free-text description and the trail's names and notes only for an
  authenticated person of the loop — a 处置单位 user on its own unit's cases only (a token is
  optional on reads; a bad one is a 401). The public trail keeps when, role, action, from, to.
- ``GET /cases/<code>/attachments/<id>`` — a photo, for a person of the loop only (403 for
  a 处置单位 user of another unit).
- ``GET /cases?state=&grid=&unit=&district=&category=&overdue=&limit=&after=`` (newest first; ``numberMatched``
  on all pages, a ``next`` link going on after the page's last case) and
  ``GET /cases/evaluation?from=&to=&by=`` (``from``/``to`` without an offset: the city's
  clock, the profile's ``timezone``).

Every write needs ``Authorization: Bearer <token>`` of an active ``ops_users`` row: 401
without or with an unknown/revoked token, 403 when the role (or a 处置单位's unit) may not,
409 when the action is not allowed in the case's state (the message names the case, its
state and the allowed actions), 404 for an unknown case, 400 for bad input. The app connects
as the read-only role; a write opens its transaction READ WRITE explicitly (the role may
write the case tables only: cim/db/roles.py). These routes are not OGC API collections: the
public ``cases`` collection (layers/cases/layer.py) shows no personal data.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import psycopg
from flask import Blueprint, Flask, Response, request

from cim.cityclock import CHINA_TIME
from cim.errors import CimError, InputError
from cim.text import shown
from services import cases_api_doc
from services.json_body import check_texts
from services.pool import Pool

if TYPE_CHECKING:
    from cim.profile import CityProfile
    from layers.cases.auth import User

LOG = logging.getLogger("cim.services.cases")
BP = "cases_api"
# the query parameters each route accepts (services.guard answers 400 to any other)
PARAMS = {
    f"{BP}.report": set(),
    f"{BP}.action": set(),
    f"{BP}.show": set(),
    f"{BP}.attachment": set(),
    f"{BP}.list_cases": {"state", "grid", "unit", "district", "category", "overdue", "limit",
                         "after"},
    f"{BP}.evaluation": {"from", "to", "by"},
}
REPORT_FIELDS = {"source", "category", "point", "crs", "grid", "asset", "address",
                 "description", "contact", "photos"}
ACTION_FIELDS = {"note", "unit", "result"}
TEXT_FIELDS = REPORT_FIELDS - {"point", "contact", "photos"}  # the report's fields given as text


def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    from cim.text import json_value

    return Response(json.dumps(data, ensure_ascii=False, default=json_value), status=status,
                    content_type="application/json", headers=headers)


def _error(status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="cim"'} if status == 401 else None
    return _json({"code": code, "description": message}, status, headers)


def _token() -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _body(allowed: set[str]) -> dict[str, Any]:
    if not request.data:
        return {}
    from services.json_body import read_json

    body = read_json(request.data)  # not JSON, or nested deeper than a report: 400 body
    if not isinstance(body, dict):
        raise InputError("the body is a JSON object", field="body")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InputError(f"unknown fields {', '.join(map(shown, unknown[:5]))}"
                         f"{f' and {len(unknown) - 5} more' if len(unknown) > 5 else ''}; "
                         f"fields: {', '.join(sorted(allowed))}", field=unknown[0][:80])
    return body


def _finite(v: Any) -> bool:
    """A JSON number a coordinate can be: finite, and an integer too long for a float
    (``1e400`` written out) is none (math.isfinite raised OverflowError on it: a 500)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _args() -> Any:
    """The request's query parameters, none holding a NUL character or a lone surrogate and
    none given twice (a 400 naming it): ``state=上报&state=立案`` listed the 上报 cases alone,
    the second value dropped unsaid, where a filter form sending both meant either."""
    for k, v in request.args.items(multi=True):
        check_texts(v, k)
    for k, values in request.args.lists():
        if len(values) > 1:
            raise InputError(f"{k} is given twice ({', '.join(map(shown, values))}): give it "
                             "once", field=k)
    return request.args


def _photo(i: int, p: Any) -> tuple[str, bytes]:
    """(name, bytes) of the report's ``photos[i]``: ``{name, content_base64}``, the name text
    (or none), the content base64 as clients write it — in one line, in MIME's lines of 76
    (the ``base64`` tool), or as a data URL (a browser's FileReader.readAsDataURL), each
    the photo's bytes. Anything else a 400 naming the photo: a character outside ASCII in
    the content was a 500 (base64 raised a ValueError of its own), and a name given as a
    number was stored as its text."""
    where = f"photos[{i}]"
    if not isinstance(p, dict) or not isinstance(p.get("content_base64"), str):
        raise InputError(f"{where}: {{name, content_base64}} with base64 content",
                         field="photos")
    name = p.get("name")
    if name is not None and not isinstance(name, str):
        raise InputError(f"{where}: name is text, not {type(name).__name__}", field="photos")
    content = p["content_base64"]
    if content.startswith("data:"):
        head, sep, content = content.partition(",")
        if not sep or not head.endswith(";base64"):
            raise InputError(f"{where}: a data URL of base64 content (data:image/jpeg;base64,"
                             "…)", field="photos")
    try:
        data = base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):  # ValueError: a character outside ASCII
        raise InputError(f"{where}: content_base64 is not base64 (A–Z a–z 0–9 + / =)",
                         field="photos") from None
    return (name or "").strip() or f"photo{i + 1}", data


def _when(value: str | None, name: str) -> dt.datetime:
    from services.iot_api import query_time

    if not value:
        raise InputError(f"{name} is required: an ISO date/time (2026-06-01, "
                         "2026-06-01T00:00+08:00)", field=name)
    try:
        return dt.datetime.fromisoformat(query_time(value))
    except ValueError:
        raise InputError(f"{shown(value)} is not an ISO date/time", field=name) from None


class CasesService:
    def __init__(self, conninfo: str, pool_size: int, timezone: str = CHINA_TIME,
                 profile: CityProfile | None = None) -> None:
        self.pool = Pool(conninfo, pool_size, prepare_threshold=None)
        self.timezone = timezone  # the city's clock: a time typed without an offset is in it
        # the city's own case categories and loop (its profile's dictionaries), as the CLI
        # reads them; None: the platform's files
        self.profile = profile

    def run(self, fn: Callable[[psycopg.Connection], Response], write: bool) -> Response:
        """``fn`` in one transaction on a pooled connection (READ WRITE for a write), with the
        platform's errors answered by status."""
        from layers.cases.store import CaseNotFound
        from layers.cases.workflow import RoleError, TransitionError

        try:
            check_texts(request.view_args or {}, "")  # a case code or action in the path
            with self.pool.connection() as conn, conn.transaction():
                if write:
                    conn.execute("SET TRANSACTION READ WRITE")
                return fn(conn)
        except _Unauthorized as exc:
            return _error(401, "Unauthorized", str(exc))
        except RoleError as exc:
            return _error(403, "Forbidden", exc.message)
        except TransitionError as exc:
            return _error(409, "Conflict", exc.message)
        except CaseNotFound as exc:
            return _error(404, "NotFound", exc.message)
        except InputError as exc:
            return _error(400, "InvalidParameterValue", str(exc))
        except CimError:  # a broken file or registry row: the server's problem, not the input's
            LOG.exception("%s failed", request.path)
            return _error(500, "NoApplicableCode", "internal error (logged by the server)")
        except psycopg.errors.QueryCanceled:
            return _error(503, "ServiceUnavailable", "the query ran longer than allowed")

    def user(self, conn: psycopg.Connection) -> User:
        from layers.cases.auth import authenticate

        token = _token()
        if token is None:
            raise _Unauthorized("this request needs Authorization: Bearer <token>")
        user = authenticate(conn, token)
        if user is None:
            raise _Unauthorized("the token is unknown or revoked")
        return user

    # -- writes ---------------------------------------------------------------------------
    def report(self) -> Response:
        def go(conn):
            from layers.cases.listing import point_in_storage
            from layers.cases.sources import check_photo_count, report_problem

            user = self.user(conn)
            b = _body(REPORT_FIELDS)
            bad = next((k for k in sorted(TEXT_FIELDS)
                        if b.get(k) is not None and not isinstance(b[k], str)), None)
            if bad is not None:
                raise InputError(f"{bad} is text, not {type(b[bad]).__name__}", field=bad)
            point = b.get("point")
            if point is not None:
                if not (isinstance(point, list) and len(point) == 2
                        and all(_finite(v) for v in point)):
                    raise InputError("point is [x, y], two finite numbers", field="point")
                point = point_in_storage(conn, tuple(point), b.get("crs"))
            photos = []
            if not isinstance(b.get("photos") or [], list):
                raise InputError("photos is a list of {name, content_base64}", field="photos")
            check_photo_count(len(b.get("photos") or []), self.profile)  # before decoding
            for i, p in enumerate(b.get("photos") or []):
                photos.append(_photo(i, p))
            contact = b.get("contact")
            if contact is not None and not isinstance(contact, dict):
                raise InputError("contact is {reporter_name, phone}", field="contact")
            out = report_problem(conn, user, source=b.get("source") or "",
                                 category_code=str(b.get("category") or ""), point=point,
                                 grid_code=b.get("grid"), address=b.get("address"),
                                 description=b.get("description"), asset_code=b.get("asset"),
                                 photos=photos, contact=contact, profile=self.profile,
                                 photo_field=lambda i: f"photos[{i}]")
            return _json(out, 201, {"Location": f"/cases/{out['code']}"})
        return self.run(go, write=True)

    def action(self, code: str, action: str) -> Response:
        def go(conn):
            from layers.cases.workflow import act

            user = self.user(conn)
            b = _body(ACTION_FIELDS)
            return _json(act(conn, code, action, user, note=b.get("note"),
                             unit=b.get("unit"), result=b.get("result"),
                             profile=self.profile))
        return self.run(go, write=True)

    # -- reads ----------------------------------------------------------------------------
    def viewer(self, conn: psycopg.Connection) -> User | None:
        """The person of the loop making a read, else None (a token is optional on reads; a
        bad one is a 401)."""
        if _token() is None:
            return None
        return self.user(conn)

    def show(self, code: str) -> Response:
        def go(conn):
            from layers.cases.store import get_case

            case = get_case(conn, code, events=True, contacts=True)
            return _json(case if _may_see(self.viewer(conn), case.get("unit"), self.profile)
                         else _public(case))
        return self.run(go, write=False)

    def attachment(self, code: str, attachment_id: int) -> Response:
        """A photo of a case, for a person of the loop only (401 otherwise; 403 for a
        处置单位 user of another unit)."""
        def go(conn):
            from layers.cases.store import case_id
            from layers.cases.workflow import RoleError

            user = self.user(conn)
            cid = case_id(conn, code)
            unit = conn.execute("SELECT unit FROM cases WHERE id = %s", (cid,)).fetchone()[0]
            if not _may_see(user, unit, self.profile):
                raise RoleError(f"case {code} is dispatched to {unit}, not to {user.unit} "
                                f"({user.name})")
            row = conn.execute("SELECT media_type, content, sha256 FROM case_attachments "
                               "WHERE id = %s AND case_id = %s",
                               (attachment_id, cid)).fetchone()
            if row is None:
                return _error(404, "NotFound", f"case {code} has no attachment "
                                               f"{attachment_id}")
            return Response(bytes(row[1]), content_type=row[0],
                            headers={"ETag": f'"{row[2]}"', "Cache-Control": "private"})
        return self.run(go, write=False)

    def list_cases(self) -> Response:
        def go(conn):
            from layers.cases.listing import count_cases, list_cases

            a = _args()
            overdue = a.get("overdue", "false").lower()
            if overdue not in ("true", "false", "1", "0"):
                raise InputError("overdue is true or false", field="overdue")
            try:
                limit = int(a.get("limit", "100"))
            except ValueError:
                raise InputError("limit is an integer", field="limit") from None
            filters = {"state": a.get("state"), "grid": a.get("grid"), "unit": a.get("unit"),
                       "district": a.get("district"), "category": a.get("category"),
                       "overdue": overdue in ("true", "1"),
                       "now": conn.execute("SELECT now()").fetchone()[0],
                       "profile": self.profile}
            rows = list_cases(conn, **filters, limit=limit, after=a.get("after") or None)
            out: dict[str, Any] = {"numberMatched": count_cases(conn, **filters)}
            links = []
            # the next page goes on after the last case listed (keyset paging: a case reported
            # meanwhile neither shifts nor repeats a row)
            if len(rows) == limit and list_cases(conn, **filters, limit=1,
                                                 after=rows[-1]["code"]):
                query = urlencode({**a.to_dict(), "after": rows[-1]["code"]})
                links.append({"rel": "next", "type": "application/json",
                              "href": f"{request.script_root}{request.path}?{query}"})
            user = self.viewer(conn)
            rows = [r if _may_see(user, r.get("unit"), self.profile) else _public(r)
                    for r in rows]
            return _json({"cases": rows, "numberReturned": len(rows), **out,
                          "links": links})
        return self.run(go, write=False)

    def evaluation(self) -> Response:
        def go(conn):
            from layers.cases.evaluate import evaluate

            a = _args()
            return _json(evaluate(conn, _when(a.get("from"), "from"), _when(a.get("to"), "to"),
                                  a.get("by") or None, timezone=self.timezone,
                                  profile=self.profile))
        return self.run(go, write=False)


class _Unauthorized(Exception):
    pass


def _may_see(user: User | None, unit: str | None,
             profile: CityProfile | None = None) -> bool:
    """Whether ``user`` (None: no token) sees a case's private parts (contact, photos, free
    text, the trail's names and notes): any person of the loop, but a user of a unit role
    (case_workflow.yaml ``unit_roles``, 处置单位) only on the cases of its own unit."""
    from layers.cases.workflow import load_workflow, workflow_file

    if user is None:
        return False
    return (user.role not in load_workflow(workflow_file(profile)).unit_roles
            or (user.unit or "") == (unit or ""))


# what the public trail keeps of each event: no person (actor), no free text (note, detail)
PUBLIC_EVENT = ("at", "role", "action", "from_state", "to_state")


def _public(case: dict[str, Any]) -> dict[str, Any]:
    """A case as anyone may see it: without the columns the published layer leaves out (free
    text, detail: layers.cases.layer.UNPUBLISHED), the contact and the photos, and with a
    trail that names no person."""
    from layers.cases.layer import UNPUBLISHED

    out = {k: v for k, v in case.items()
           if k not in UNPUBLISHED and k not in ("contact", "attachments")}
    if "events" in out:
        out["events"] = [{k: e.get(k) for k in PUBLIC_EVENT} for e in out["events"]]
    return out


def register(app: Flask, *, conninfo: str, pool_size: int,
             profile: CityProfile | None = None) -> CasesService:
    """Serve the case loop on ``app`` (see the module docstring); times typed without an
    offset (the evaluation's ``from``, ``to``) are on ``profile``'s clock (None: China's)."""
    from services import guard

    service = CasesService(conninfo, pool_size,
                           profile.timezone if profile is not None else CHINA_TIME, profile)
    bp = Blueprint(BP, __name__)
    bp.add_url_rule("/cases", "report", service.report, methods=["POST"])
    bp.add_url_rule("/cases", "list_cases", service.list_cases, methods=["GET"])
    bp.add_url_rule("/cases/evaluation", "evaluation", service.evaluation, methods=["GET"])
    bp.add_url_rule("/cases/<code>", "show", service.show, methods=["GET"])
    bp.add_url_rule("/cases/<code>/actions/<action>", "action", service.action,
                    methods=["POST"])
    bp.add_url_rule("/cases/<code>/attachments/<int:attachment_id>", "attachment",
                    service.attachment, methods=["GET"])
    app.register_blueprint(bp)
    guard.STRICT_PARAMS.update(PARAMS)
    # a report carries its photos, base64 in the JSON (4 bytes for 3): as many bytes as a
    # report's photos may hold together (the workflow's attachments.max_report_bytes, 40 MiB)
    # with the rest of the report — one photo's size (max_bytes) refused two phone photos
    from layers.cases.sources import max_report_bytes
    from layers.cases.workflow import workflow_file

    photos = max_report_bytes(profile)
    guard.BODY_LIMITS[f"{BP}.report"] = photos * 4 // 3 + (1 << 20)
    guard.BODY_HINTS[f"{BP}.report"] = (
        f"a report's photos together at most {photos} bytes (attachments.max_report_bytes "
        f"of {workflow_file(profile).name}), sent as base64")
    app.extensions["cim_cases"] = service
    return service


# the routes in the served OpenAPI document (services.openapi_paths reads this)
OPENAPI_PATHS = cases_api_doc.paths()
