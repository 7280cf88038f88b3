"""The OGC API process ``health-compute``: the CLI's ``cim health compute --json`` result.

Inputs: ``year`` (required), ``store`` (default true: the year's results replace the stored
ones, which needs a writer's connection; false computes and compares without writing),
``future_year`` (default false: a year after the city's current year is refused, as the CLI's
``--future-year`` says it is intended). The answer's ``stored`` says whether it was stored (a server without a writer computes only).
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
    from cim.errors import InputError
    from layers.health.compute import future_year_problem

    year = int(inputs["year"])
    problem = None if inputs.get("future_year") else future_year_problem(year, profile)
    if problem:
        raise InputError(problem)
    from cim.errors import DatabaseError

    try:
        result = compute(conninfo, year, profile, store=False)
    except DatabaseError as exc:  # no districts loaded: said so, not a server's internal error
        raise InputError(str(exc)) from exc
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
    "description": ("Every indicator of the city health catalog (health_indicators.yaml) per district and for the city, compared with the previous year and the targets, and the health index; store writes the year's results. The CLI's cim health compute."),
    "inputs": {
        "type": "object", "required": ["year"], "additionalProperties": False,
        "properties": {
            "year": {"type": "integer", "minimum": 1900, "maximum": 2200},
            "store": {"type": "boolean", "default": True,
                      "description": "store the year's results (replacing them)"},
            "future_year": {"type": "boolean", "default": False,
                            "description": "the year is after the city's current year on "
                                           "purpose (a plan-target scenario)"}}},
    "run": run,
    "writes": True,
}
