"""The OGC API process ``health-compute``: the CLI's ``cim health compute --json`` result.

Inputs: ``year`` (required), ``store`` (default true: the year's results replace the stored
ones, which needs a writer's connection; false computes and compares without writing). The
answer's ``stored`` says whether it was stored (a server without a writer computes only).
"""

from __future__ import annotations

from typing import Any


def run(conninfo: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The process: JSON inputs → the CLI's JSON result."""
    import os

    from cim.config import DEFAULT_PROFILE
    from cim.profile import load_profile
    from layers.health.compute import compute

    path = os.environ.get("CIM_PROFILE") or DEFAULT_PROFILE  # as the CLI chooses it
    profile = load_profile(path) if path else None
    result = compute(conninfo, int(inputs["year"]), profile, store=False)
    result["stored"] = False
    if inputs.get("store", True):
        from psycopg import errors

        from layers.health.store import write_year

        try:
            result["run_id"] = write_year(conninfo, result)
            result["stored"] = True
        except (errors.ReadOnlySqlTransaction, errors.InsufficientPrivilege):
            pass  # served read-only (no CIM_PROCESS_WRITER_URL): computed, not stored
    return result


PROCESS: dict[str, Any] = {
    "id": "health-compute",
    "title": "City health check (城市体检): every indicator of the catalog per district and "
             "for the city, compared with the previous year and the targets, and the index",
    "inputs": {
        "type": "object", "required": ["year"], "additionalProperties": False,
        "properties": {
            "year": {"type": "integer", "minimum": 1900, "maximum": 2200},
            "store": {"type": "boolean", "default": True,
                      "description": "store the year's results (replacing them)"}}},
    "run": run,
    "writes": True,
}
