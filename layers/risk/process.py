"""OGC API processes of the risk list: ``risk-list`` (read: the points or their counts per
unit, as ``cim risk list --json``) and ``risk-assess`` (writes: ``cim risk assess --json``; it
needs the writer's connection, CIM_PROCESS_WRITER_URL, and says so when served read-only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from cim.errors import InputError
from layers.risk.config import COLORS, LEVELS, load_config


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.date | dt.datetime) else v


# the command line's options → this process's inputs: the listing names the options of
# `cim risk list`, which an HTTP caller has not got (it sent "type", not "--type")
_INPUTS = {"--level": "level", "--type": "type", "--by": "by"}


def run_list(conninfo: str, inputs: dict[str, Any]) -> dict[str, Any]:
    from layers.query.pipes import resolve_profile
    from layers.risk.config import load_types
    from layers.risk.listing import counts_by, list_points

    types = load_types(resolve_profile(None))
    try:
        if inputs.get("by"):
            return {"counts": counts_by(conninfo, inputs["by"], inputs.get("level"),
                                        inputs.get("type"), types)}
        rows = list_points(conninfo, inputs.get("level"), inputs.get("type"), types)
    except InputError as exc:
        if exc.field not in _INPUTS:
            raise
        raise InputError(exc.message.replace(exc.field, _INPUTS[exc.field]),
                         field=_INPUTS[exc.field]) from None
    return {"points": [{k: _plain(v) for k, v in r.items()} for r in rows]}


def run_assess(conninfo: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The city's rules and matrix (its profile's overrides, as ``cim risk assess`` reads
    them: CIM_PROFILE, else the sample profile), not the platform's defaults."""
    from layers.query.pipes import resolve_profile
    from layers.risk.assess import assess

    cfg = load_config(resolve_profile(None))
    try:
        return assess(conninfo, cfg, inputs.get("year"))
    except (psycopg.errors.ReadOnlySqlTransaction,
            psycopg.errors.InsufficientPrivilege) as exc:
        raise InputError("risk-assess writes the risk list: the server needs "
                         "CIM_PROCESS_WRITER_URL") from exc


PROCESSES: list[dict[str, Any]] = [
    {"id": "risk-list",
     "title": "Risk list (城市治理风险清单): current risk points, most severe first, or their "
              "counts per grid cell or district",
     "description": ("The current risk points, most severe first (filtered by level, type, district or grid), or their counts per grid cell or district; the CLI's cim risk list."),
     "inputs": {"type": "object", "additionalProperties": False, "properties": {
         "level": {"type": "string", "enum": [*LEVELS, *COLORS]},
         "type": {"type": "string", "description": "risk type code (risk_types.csv)"},
         "by": {"type": "string", "enum": ["grid", "district"]}}},
     "run": run_list},
    {"id": "risk-assess",
     "title": "Risk assessment (算法评估定级): regenerate the rule points, regrade every point "
              "and record the assessment",
     "description": ("Regenerate the rule-based risk points, regrade every point by likelihood × consequence (risk_matrix.yaml) and record the assessment; writes, so the server needs its writer URL. The CLI's cim risk assess."),
     "inputs": {"type": "object", "additionalProperties": False, "properties": {
         "year": {"type": "integer", "minimum": 1900, "maximum": 2200}}},
     "run": run_assess, "writes": True},
]
