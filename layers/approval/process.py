"""The OGC API process ``approval-check``: the project as GeoJSON in, the JSON result out.

Inputs: ``project`` (a GeoJSON FeatureCollection whose features carry a ``role`` property:
site | building | demolish | green, and the building attributes of ``cim check``), optional
``crs`` (default: the collection's legacy ``crs`` member as GDAL reads it from a file, else
lon/lat as GeoJSON says, or Gauss-Krüger eastings detected; given beside a ``crs`` member that
puts the coordinates elsewhere, refused as ``cim check --crs`` over a file's CRS is) and
``name``. The result is the
CLI's ``--json`` result for the same features; only ``project.source`` (the name, not a file
path), the times and ``record_id`` differ.

Each check is recorded in ``approval_checks`` (its id in ``record_id``). The served process
runs as the read-only role, which may INSERT into that table and nothing else
(``cim.db.roles``); against a database whose role predates that grant (``cim db upgrade``
gives it), the check answers with ``record_id`` null and a warning in the server's log.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from cim.crs import parse_crs
from cim.profile import CityProfile
from layers.approval.check import check
from layers.approval.config import load_config
from layers.approval.outlines import refuse_reinterpreted
from layers.approval.project import build_project, records_from_geojson
from layers.approval.record import record_check
from layers.query.pipes import resolve_profile
from layers.query.sqlparts import storage_srid

LOG = logging.getLogger("cim.approval")


def db_srid(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return storage_srid(conn)


def run(conninfo: str, inputs: dict[str, Any], profile: CityProfile | None = None
        ) -> dict[str, Any]:
    """The process: JSON inputs (``PROCESS["inputs"]``) → the CLI's JSON result."""
    name = inputs.get("name") if inputs.get("name") is not None else "project"
    fc = inputs.get("project")
    cfg = load_config(resolve_profile(profile))
    records = records_from_geojson(fc, name)
    srid = db_srid(conninfo)
    given, legacy = inputs.get("crs"), _legacy_crs(fc)
    if given and legacy:  # the collection says where its coordinates lie: not overridden
        refuse_reinterpreted({"features": parse_crs(legacy)}, parse_crs(given), records, srid,
                             name, given_by="the input 'crs'")
    project = build_project(records, source=name, name=name, crs=given or legacy,
                            storage_srid=srid, profile=profile, config=cfg)
    result, _ = check(conninfo, project, profile, cfg)
    result["project"]["file_sha256"] = None  # a posted project is no file (as its record)
    try:
        # the project as checked kept with the record (a posted project is in no file)
        result["record_id"] = record_check(conninfo, result, None, None,
                                           project_input=project.as_geojson(srid),
                                           channel="http")
    except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege) as e:
        LOG.warning("approval check of %r not recorded (%s): run `cim db upgrade` to grant "
                    "the read-only role INSERT on approval_checks", name, type(e).__name__)
        result["record_id"] = None
    return result


def _legacy_crs(fc: Any) -> str | None:
    """The ``crs`` member of pre-RFC 7946 GeoJSON (``{"type": "name", "properties":
    {"name": "urn:ogc:def:crs:EPSG::4527"}}``), which GDAL honours in a file."""
    member = fc.get("crs") if isinstance(fc, dict) else None
    name = (member.get("properties") or {}).get("name") if isinstance(member, dict) else None
    return name if isinstance(name, str) and name.strip() else None


_FEATURE = {
    "type": "object", "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"const": "Feature"},
        "geometry": {"type": "object", "required": ["type", "coordinates"]},
        "properties": {
            "type": "object", "required": ["role"],
            "properties": {
                "role": {"type": "string",
                         "enum": ["site", "building", "demolish", "green",
                                  "用地红线", "建筑", "拆除", "绿地"]},
                "name": {"type": "string"},
                "floors_above": {"type": "integer", "minimum": 0},
                "floors_below": {"type": "integer", "minimum": 0},
                "height": {"type": "number", "exclusiveMinimum": 0},
                "use": {"type": "string"},
                "counted_area": {"type": "number", "minimum": 0},
                "ground_elevation": {"type": "number"},
                "code": {"type": "string",
                         "description": "demolish: the existing building's platform code"}}}}}

PROCESS: dict[str, Any] = {
    "id": "approval-check",
    "title": "Approval check (规划审查): a proposed project against the planning layers, "
             "buildings and pipes of the CIM",
    "description": ("A proposed project (a GeoJSON FeatureCollection: site, buildings, demolitions, green, with their heights and floors) checked against the planning parcels, control lines, height zones, existing buildings and pipes of the CIM, rule by rule (approval_rules.yaml); the CLI's cim check."),
    "inputs": {
        "type": "object", "required": ["project"], "additionalProperties": False,
        "properties": {
            "project": {"type": "object", "required": ["type", "features"],
                        "properties": {"type": {"const": "FeatureCollection"},
                                       "features": {"type": "array", "items": _FEATURE}}},
            "crs": {"type": "string", "description": "CRS of the coordinates (default CRS84)"},
            "name": {"type": "string"}}},
    "run": run,
}
