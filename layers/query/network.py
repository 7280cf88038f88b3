"""Network analysis on the pipe topology: flow traces of gravity drainage and valve isolation.

Both work on the in-memory graph of :mod:`layers.query.graph` (one SQL read per class and
network version, then numpy; why not pgRouting is measured there and in docs/benchmarks.md).

The trace (排水 上下游追踪) is :mod:`layers.query.trace`, the valve isolation (关阀分析)
:mod:`layers.query.isolation`, the reading of a code both start from
:mod:`layers.query.network_locate`. Here they are the OGC API's processes: kept in this module
so the process registry (:mod:`layers.processes`, module order) lists them as before, trace
then isolate.
"""

from __future__ import annotations

from typing import Any

from layers.query.common import ConnOrInfo
from layers.query.isolation import isolate
from layers.query.trace import trace


# -- processes (OGC API) ---------------------------------------------------------------------
def run_trace(conninfo: ConnOrInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """The trace process: JSON inputs (``TRACE_PROCESS["inputs"]``) → the CLI's JSON result."""
    return trace(conninfo, inputs["code"], inputs.get("direction", "down"))


def run_isolate(conninfo: ConnOrInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """The isolation process: JSON inputs → the CLI's JSON result."""
    return isolate(conninfo, inputs["code"], inputs.get("sources"), inputs.get("at"))


_CODE = {"type": "string", "minLength": 1, "maxLength": 24}
TRACE_PROCESS: dict[str, Any] = {
    "id": "trace", "title": "Upstream/downstream trace of gravity drainage (排水追踪)",
    "description": ("Upstream or downstream trace of gravity drainage from a point or segment code: the segments and points reached; the CLI's cim query trace."),
    "inputs": {"type": "object", "additionalProperties": False, "required": ["code"],
               "properties": {"code": _CODE,
                              "direction": {"type": "string", "enum": ["up", "down"]}}},
    "run": run_trace, "pooled": True,
}
ISOLATE_PROCESS: dict[str, Any] = {
    "id": "isolate", "title": "Valve isolation of a burst pipe (关阀分析)",
    "description": ("Valve isolation (关阀分析) of a burst on a segment or at a node: the valves to close, the segments isolated and, with sources, those losing supply; the CLI's cim query isolate."),
    "inputs": {"type": "object", "additionalProperties": False, "required": ["code"],
               "properties": {"code": _CODE,
                              "sources": {"type": "array", "items": _CODE, "maxItems": 1000},
                              "at": {"type": "number", "minimum": 0, "maximum": 1}}},
    "run": run_isolate, "pooled": True,
}
PROCESSES = (TRACE_PROCESS, ISOLATE_PROCESS)
