"""A self-contained OpenAPI document: external ``$ref`` s inlined from vendored OGC schemas.

pygeoapi's generated document points at schemas.opengis.net and raw.githubusercontent.com
for its responses and parameters; a client on an intranet cannot resolve them, and the OGC
conformance suite fails the API definition test. :func:`bundle_openapi` copies every
referenced component, and everything it refers to in turn, from ``services/schemas`` (see its
README for where each file comes from) into the document's own ``components`` and points the
``$ref`` s there. Done once per process, when the document is built.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml

SCHEMAS = Path(str(resources.files("services") / "schemas"))
# URL prefix -> folder under services/schemas
MIRRORS = {
    "https://schemas.opengis.net/": "",
    "http://schemas.opengis.net/": "",
    "https://raw.githubusercontent.com/opengeospatial/ogcapi-records/master/": "ogcapi-records/",
}
_SECTIONS = ("parameters", "responses", "schemas", "headers", "requestBodies", "examples")


class BundleError(ValueError):
    """An external reference with no vendored copy (the message names it)."""


def local_path(url: str) -> Path:
    for prefix, folder in MIRRORS.items():
        if url.startswith(prefix):
            p = (SCHEMAS / (folder + url[len(prefix):])).resolve()
            if SCHEMAS.resolve() in p.parents and p.is_file():
                return p
    raise BundleError(f"no vendored copy of {url} (add it under {SCHEMAS})")


@lru_cache(maxsize=64)
def _load(url: str) -> Any:
    with open(local_path(url), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _pointer(doc: Any, pointer: str, url: str) -> Any:
    node = doc
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise BundleError(f"{url}#{pointer}: no such component in the vendored copy") \
                from None
    return node


class _Bundler:
    def __init__(self, doc: dict) -> None:
        self.doc = doc
        self.components = doc.setdefault("components", {})
        self.imported: dict[tuple[str, str], str] = {}

    def rewrite(self, node: Any, base: str | None) -> None:
        """Point every ``$ref`` under ``node`` (read from file ``base``; None = the document
        itself) at a component of the document."""
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, dict):
                ref = n.get("$ref")
                if isinstance(ref, str):
                    n["$ref"] = self.target(ref, base)
                stack.extend(v for k, v in n.items() if k != "$ref")
            elif isinstance(n, list):
                stack.extend(n)

    def target(self, ref: str, base: str | None) -> str:
        if base is None and ref.startswith("#"):
            return ref
        url, _, pointer = (urljoin(base, ref) if base else ref).partition("#")
        if not url.startswith(("http://", "https://")):
            raise BundleError(f"relative reference {ref!r} outside any vendored file")
        return self.import_(url, pointer)

    def import_(self, url: str, pointer: str) -> str:
        key = (url, pointer)
        if key in self.imported:
            return self.imported[key]
        content = copy.deepcopy(_pointer(_load(url), pointer, url))
        parts = [p for p in pointer.split("/") if p]
        if len(parts) == 3 and parts[0] == "components" and parts[1] in _SECTIONS:
            section, name = parts[1], parts[2]
        else:
            segments = url.split("/")
            section = next((s for s in reversed(segments[:-1]) if s in _SECTIONS), "schemas")
            name = (parts[-1] if parts else segments[-1].rsplit(".", 1)[0])
        bucket = self.components.setdefault(section, {})
        unique, i = name, 1
        while unique in bucket:
            i += 1
            unique = f"{name}_{i}"
        local = f"#/components/{section}/{unique}"
        self.imported[key] = local
        bucket[unique] = content  # before its own refs: cycles end at this entry
        self.rewrite(content, url)
        return local


def bundle_openapi(doc: dict) -> dict:
    """A copy of ``doc`` with no external ``$ref``: each referenced component is inlined
    once under ``components`` and referred to locally. Raises :class:`BundleError` for a
    reference that has no vendored copy."""
    out = copy.deepcopy(doc)
    _Bundler(out).rewrite(out, None)  # imported components are rewritten as they come in
    return out


def bundle_openapi_text(text: str, fmt: str = "yaml") -> str:
    """:func:`bundle_openapi` for pygeoapi's ``generate_openapi_document`` output."""
    doc = yaml.safe_load(text)
    bundled = bundle_openapi(doc)
    if fmt == "json":
        return json.dumps(bundled, ensure_ascii=False)
    return yaml.safe_dump(bundled, allow_unicode=True, sort_keys=False)


def external_refs(doc: Any) -> list[str]:
    """Every ``$ref`` that leaves the document (for checks and tests)."""
    out, stack = [], [doc]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            ref = n.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                out.append(ref)
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


# -- the platform's own items parameters -------------------------------------------------------
PLATFORM_PARAMETERS: dict[str, dict] = {
    "cursor": {
        "name": "cursor", "in": "query", "required": False, "style": "form", "explode": False,
        "description": "Keyset paging: the value the `next` link of the previous page carries "
                       "(the page continues after that feature), in every format: an id, or "
                       "after a `sortby` page an opaque token of that sort (one of another "
                       "sort is a 400). Follow the links; do not build it.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}},
    "resulttype": {
        "name": "resulttype", "in": "query", "required": False, "style": "form",
        "explode": False,
        "description": "`hits`: only numberMatched (always counted exactly), no features.",
        "schema": {"type": "string", "enum": ["results", "hits"], "default": "results"}},
    "resultType": {
        "name": "resultType", "in": "query", "required": False, "style": "form",
        "explode": False,
        "description": "`resulttype` by the name of the WFS 3 drafts, which GDAL's OAPIF "
                       "driver (3.6: ogrinfo, ogr2ogr) looks for before it counts a filtered "
                       "layer with one request instead of downloading it.",
        "schema": {"type": "string", "enum": ["results", "hits"], "default": "results"}},
    "filter": {
        "name": "filter", "in": "query", "required": False, "style": "form", "explode": False,
        "description": "A CQL2 filter (OGC API Features Part 3) in `filter-lang`. Without "
                       "`filter-lang` a filter that is not CQL2 Text is read as pygeoapi's ECQL.",
        "schema": {"type": "string"}},
    "filter-lang": {
        "name": "filter-lang", "in": "query", "required": False, "style": "form",
        "explode": False,
        "description": "The language of `filter`. `cql-text` (the draft's name of CQL2 Text, "
                       "as GDAL's OAPIF driver writes it: CQL2 Text and ILIKE) is listed so "
                       "that GDAL 3.6 — QGIS's OGR layers, ogr2ogr — sends its attribute "
                       "filters here instead of downloading every feature to filter them; "
                       "`cql-json`, the draft's name of CQL2 JSON, is read as CQL2 JSON.",
        "schema": {"type": "string", "enum": ["cql2-text", "cql2-json", "cql-text",
                                              "cql-json"],
                   "default": "cql2-text"}},
    "filter-crs": {
        "name": "filter-crs", "in": "query", "required": False, "style": "form",
        "explode": False,
        "description": "The CRS of the geometries in `filter` (default CRS84), in that CRS's "
                       "axis order; one of the collection's `crs` list.",
        "schema": {"type": "string", "format": "uri"}},
    "datetime": {
        "name": "datetime", "in": "query", "required": False, "style": "form",
        "explode": False,
        "description": "The versions valid then (`valid_from`/`valid_to`): an RFC 3339 instant "
                       "(a date is the city's whole day, a time without an offset the city's "
                       "clock) or an interval `start/end` (`..` an open end), each feature "
                       "once, in its latest version valid in it.",
        "schema": {"type": "string"}},
    "q": {
        "name": "q", "in": "query", "required": False, "style": "form", "explode": False,
        "description": "Comma-separated search terms (a full-width ， too), any of them, "
                       "case-insensitive, in any text property.",
        "schema": {"type": "string"}},
}
# ``f`` of ``/collections/{id}/items``: the platform's GeoJSON (json, geojson) and pygeoapi's
# pages (html, csv, jsonld); pygeoapi's shared ``f`` (json, html, jsonld) left two out
ITEMS_FORMAT = {
    "name": "f", "in": "query", "required": False, "style": "form", "explode": False,
    "description": "The format of the page: GeoJSON (json, geojson), HTML, CSV (its last "
                   "column the geometry as WKT) or JSON-LD; without it, by `Accept`.",
    "schema": {"type": "string", "enum": ["json", "geojson", "html", "csv", "jsonld"],
               "default": "json"}}
_DROPPED = "#/components/parameters/vendorSpecificParameters"  # unknown parameters are a 400


def platform_openapi(doc: dict, tiled: list[str] | None = None) -> dict:
    """pygeoapi's document as the platform serves it: every ``…/items`` GET lists the
    parameters the platform's items path takes (``cursor``, ``resulttype``, ``filter``,
    ``filter-lang``, ``filter-crs``, ``datetime``, ``q``; ``bbox-crs`` comes from pygeoapi)
    and its formats (``f``: csv and geojson too), no longer allows free
    vendor parameters (an unknown parameter is a 400), the routes the platform answers itself
    are described (:mod:`services.openapi_paths`: processes, tiles of ``tiled``, the web map,
    the operational APIs), and no ``$ref`` leaves the document."""
    from services.openapi_paths import platform_paths

    out = copy.deepcopy(doc)
    paths = out.setdefault("paths", {})
    for path, item in platform_paths(tiled or []).items():
        paths.setdefault(path, item)
    params = out.setdefault("components", {}).setdefault("parameters", {})
    for name, spec in PLATFORM_PARAMETERS.items():
        params[name] = copy.deepcopy(spec)
    params["itemsFormat"] = copy.deepcopy(ITEMS_FORMAT)
    for path, item in out.get("paths", {}).items():
        get = item.get("get") if isinstance(item, dict) else None
        parts = path.strip("/").split("/")
        if isinstance(get, dict) and len(parts) == 3 and parts[0] == "collections":
            _only_accepted(get, parts[2])  # /collections/{id}/queryables, …/schema
        if not path.endswith("/items") or not isinstance(get, dict):
            continue
        plist = [p if not _is_format(p) else {"$ref": "#/components/parameters/itemsFormat"}
                 for p in get.get("parameters", []) if p.get("$ref") != _DROPPED]
        names = {p.get("name") for p in plist} | {p.get("$ref", "").rsplit("/", 1)[-1]
                                                  for p in plist}
        plist += [{"$ref": f"#/components/parameters/{n}"} for n in PLATFORM_PARAMETERS
                  if n not in names]
        get["parameters"] = plist
    return bundle_openapi(out)


def _is_format(param: dict) -> bool:
    """Whether ``param`` is pygeoapi's ``f`` (inline or by reference)."""
    return param.get("name") == "f" or param.get("$ref", "").rsplit("/", 1)[-1] == "f"


def _only_accepted(get: dict, resource: str) -> None:
    """Leave out of a collection's queryables (or schema) GET the parameters the server
    refuses there (:data:`services.guard.STRICT_PARAMS`): pygeoapi lists ``properties`` on
    queryables, which was a 400 to a client that believed the document."""
    from services.guard import STRICT_PARAMS

    allowed = STRICT_PARAMS.get(f"pygeoapi.collection_{resource}")
    if allowed is None:
        return
    get["parameters"] = [p for p in get.get("parameters", [])
                         if (p.get("name") or p.get("$ref", "").rsplit("/", 1)[-1]) in allowed]


def platform_openapi_text(text: str, tiled: list[str] | None = None) -> str:
    """:func:`platform_openapi` for pygeoapi's ``generate_openapi_document`` YAML output."""
    return yaml.safe_dump(platform_openapi(yaml.safe_load(text), tiled), allow_unicode=True,
                          sort_keys=False)
