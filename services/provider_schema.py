"""What pygeoapi's queryables and schema documents say of a layer's properties, amended.

pygeoapi 0.21 titles each queryable by its key whatever the provider says, gives an array no
``items`` and writes ``$schema``/``$id`` otherwise than OGC API Features Part 3 asks; the
provider (:class:`services.providers.CimProvider`) titles its fields by the Chinese names the
maps use (:mod:`layers.styles.fields`) and has the document amended as it leaves.
"""

from __future__ import annotations

import json
from functools import cache
from urllib.parse import urlsplit, urlunsplit

from cim.layerdefs import GEOMETRY_COLUMN
from layers.styles.fields import chinese_title, field_titles


def declared_descriptions(layer: str) -> dict[str, str]:
    """{column: what its declared title says beyond its Chinese name} of ``layer``
    (``建筑高度 height (m)`` → ``height (m)``): the unit, range or code list a title alone
    leaves out (Part 3's /rec/filter/queryables-schema A: a description where necessary)."""
    return dict(_descriptions().get(layer, {}))


@cache
def _descriptions() -> dict[str, dict[str, str]]:
    """Every layer's descriptions, from one walk over the columns its property titles come
    from (:func:`layers.styles.fields.field_titles`: the base columns, the layer's own and a
    result table's others, ``other_columns``). A walk of its own per layer, over the
    LayerDefs' columns only, had left the others without a description (an indicator's
    ``unit``, ``direction``, ``method``; an alarm's ``detail``) while titling them."""
    from cim.layerdefs import BASE_COLUMNS
    from layers.catalog import layer_defs
    from layers.styles.fields import other_columns

    other = other_columns()
    out: dict[str, dict[str, str]] = {}
    for d in layer_defs().values():
        notes = out.setdefault(d.name, {})
        for c in (*BASE_COLUMNS, *d.columns, *other.get(d.name, ())):
            head, _, rest = c.title.strip().partition(" ")
            note = rest.strip() if chinese_title(head) else c.title.strip()
            if note:
                notes[c.name] = note
    return out


# pygeoapi's resources that describe a collection's properties as JSON Schema
SCHEMA_ENDPOINTS = ("pygeoapi.collection_queryables", "pygeoapi.collection_schema")
JSON_SCHEMA = "https://json-schema.org/draft/2019-09/schema"  # its meta-schema's $id


def amend_schema_response(layer: str, fields: dict) -> None:
    """Have the queryables (or schema) document being served for ``layer`` amended as it
    leaves: pygeoapi 0.21 titles each queryable by its key (``"title": "use_name"``) whatever
    the provider says, gives an array no ``items``, and writes ``$schema`` as ``http://``
    and ``$id`` with the request's query (``…/queryables?f=json``), where OGC API Features
    Part 3 (/req/queryables/get-queryables-response) asks for the meta-schema's https URI
    and the resource's URI without query. Nothing outside such a request."""
    from flask import after_this_request, g, has_request_context, request

    if not has_request_context() or request.endpoint not in SCHEMA_ENDPOINTS \
            or g.get("cim_schema_amended"):
        return
    g.cim_schema_amended = True
    geometry = field_titles(layer).get(GEOMETRY_COLUMN)

    @after_this_request
    def _amend(resp):
        return amended_schema(resp, fields, geometry)


def amended_schema(resp, fields: dict, geometry_title: str | None = None):
    """``resp`` (pygeoapi's queryables or schema answer) with the properties' titles and
    array items of ``fields`` (:meth:`CimProvider.get_fields`), the geometry's title, and
    the ``$schema`` and ``$id`` Part 3 asks for; any other answer (an HTML page, an
    error) as it is."""
    # pygeoapi's response keeps its headers as a plain dict (no ``resp.mimetype``)
    kind = str(resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if resp.status_code != 200 or kind != "application/schema+json" \
            or resp.headers.get("Content-Encoding"):  # gzipped: pygeoapi's own bytes
        return resp
    try:
        doc = json.loads(resp.get_data())
    except ValueError:
        return resp
    if not isinstance(doc, dict) or not isinstance(doc.get("properties"), dict):
        return resp
    for name, prop in doc["properties"].items():
        if not isinstance(prop, dict):
            continue
        field = fields.get(name)
        if field is not None:
            prop["title"] = field["title"]
            if field.get("description"):
                prop["description"] = field["description"]
            if "items" in field and prop.get("type") == "array":
                prop.setdefault("items", dict(field["items"]))
        elif prop.get("x-ogc-role") == "primary-geometry" and geometry_title:
            prop.setdefault("title", geometry_title)
    doc["$schema"] = JSON_SCHEMA
    if isinstance(doc.get("$id"), str):
        parts = urlsplit(doc["$id"])
        doc["$id"] = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    resp.set_data(json.dumps(doc, separators=(",", ":")))  # as pygeoapi writes it
    return resp
