"""The case loop's routes (services.cases_api) as OpenAPI paths, for the served ``/openapi``.

Kept apart from the routes' code so that neither module grows past reading length; the texts
here must say what services.cases_api does (its fields, statuses and parameters).
"""

from __future__ import annotations

from services import openapi_paths as oas

_ERRORS = {"400": "bad input (the message names the field)",
           "401": "no token, or an unknown or revoked one",
           "403": "the user's role (or unit) may not do this",
           "404": "no case has this code",
           "409": "the action is not allowed in the case's state"}


def paths() -> dict[str, dict]:
    """The paths of ``/cases…``; services.cases_api keeps them as its ``OPENAPI_PATHS``,
    which services.openapi_paths merges into the served document."""
    def ok(text: str, status: str = "200") -> dict:
        return {status: oas.ok(text)}

    def errors(*codes: str) -> dict:
        return oas.errors(_ERRORS, *codes)

    def q(name: str, text: str, required: bool = False, schema: dict | None = None) -> dict:
        return oas.param(name, "query", text, schema, required)

    def p(name: str, text: str, schema: dict | None = None) -> dict:
        return oas.param(name, "path", text, schema)

    auth = " (Authorization: Bearer <token> of a user of the loop)"
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["source", "category"], "properties": {
            "source": {"type": "string", "description": "巡查上报 (监督员), 市民热线 (受理员) "
                       "or another source of the city's case_workflow.yaml sources"},
            "category": {"type": "string", "description": "case_categories.csv code"},
            "point": {"type": "array", "items": {"type": "number"}, "minItems": 2,
                      "maxItems": 2},
            "crs": {"type": "string"}, "grid": {"type": "string"},
            "asset": {"type": "string"}, "address": {"type": "string"},
            "description": {"type": "string"},
            "contact": {"type": "object", "properties": {
                "reporter_name": {"type": "string"}, "phone": {"type": "string"}}},
            "photos": {"type": "array", "description": "at most the case workflow's "
                       "attachments.max_photos (9 in the platform's file)",
                       "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "content_base64": {
                    "type": "string", "description": "the photo's bytes in base64 (in one "
                    "line or MIME's lines; a data URL, data:image/jpeg;base64,…, too)"}}}}}}}}}
    act_body = {"content": {"application/json": {"schema": {"type": "object", "properties": {
        "note": {"type": "string"}, "unit": {"type": "string"},
        "result": {"type": "string", "enum": ["pass", "fail"]}}}}}}
    tags = ["cases"]
    return {
        "/cases": {
            "post": {"summary": "Report a problem (巡查上报 by a 监督员, 市民热线 by a 受理员)"
                                + auth,
                     "tags": tags, "requestBody": body,
                     "responses": {**ok("the case opened", "201"),
                                   **errors("400", "401", "403")}},
            "get": {"summary": "List current cases", "tags": tags, "parameters": [
                q("state", "state (上报 立案 派遣 处置 核查 结案 作废)"),
                q("grid", "grid cell code"), q("unit", "responsible unit"),
                q("district", "district (level-3 division) code"),
                q("category", "category code (case_categories.csv)"),
                q("overdue", "past the deadline and not handled yet",
                  schema={"type": "boolean"}),
                q("limit", "at most this many (1..1000)", schema={"type": "integer"}),
                q("after", "the code of the last case of the page before (the next "
                           "link gives it)")],
                "responses": {**ok("the cases"), **errors("400")}}},
        "/cases/evaluation": {
            "get": {"summary": "立案率, 按期处置率, 结案率, mean handling time of a period",
                    "tags": tags, "parameters": [
                        q("from", "start (ISO, included; without an offset the city's "
                                  "time)", True),
                        q("to", "end (ISO, excluded; without an offset the city's time)",
                          True),
                        q("by", "grid, unit or district",
                          schema={"type": "string", "enum": ["grid", "unit", "district"]})],
                    "responses": {**ok("the figures and the overdue list"),
                                  **errors("400")}}},
        "/cases/{code}": {
            "get": {"summary": "A case with its audit trail (contact and photos for staff)",
                    "tags": tags, "parameters": [p("code", "case code")],
                    "responses": {**ok("the case"), **errors("401", "404")}}},
        "/cases/{code}/attachments/{attachmentId}": {
            "get": {"summary": "A photo of a case" + auth, "tags": tags,
                    "parameters": [p("code", "case code"),
                                   p("attachmentId", "attachment id", {"type": "integer"})],
                    "responses": {"200": {"description": "the photo", "content": {
                        "image/*": {"schema": {"type": "string", "format": "binary"}}}},
                        **errors("401", "403", "404")}}},
        "/cases/{code}/actions/{action}": {
            "post": {"summary": "Move a case through the loop (case_workflow.yaml)" + auth,
                     "tags": tags, "requestBody": act_body,
                     "parameters": [p("code", "case code"), p(
                         "action", "an action of the city's case_workflow.yaml: the "
                         "platform's register, dispatch, handle, verify, close, return, "
                         "void, or one the city adds")],
                     "responses": {**ok("the case after the action"),
                                   **errors("400", "401", "403", "404", "409")}}},
    }

