"""The registry of the library's processes: every ``PROCESS``/``PROCESSES`` of a layers package.

A process is a plain dict a library module exposes, so the CLI, the tests and the OGC API
(:mod:`services.processes`) share one description and one function::

    PROCESS = {"id": "aoi", "title": "...", "inputs": {JSON Schema of the inputs object},
               "run": run,            # run(conninfo, inputs) -> the CLI's --json result
               "writes": False,       # optional: True when run writes (it then gets a
                                      # writer's connection, everything else the reader's)
               "pooled": False,       # optional: True when run also takes an open psycopg
                                      # connection for conninfo (the server lends it a
                                      # pooled one of the reader's; run must not close it)
               "city_clock": False}   # optional: True when run takes zone= (the served
                                      # city's timezone: dates its filters compare)

A module may expose several as ``PROCESSES`` (a sequence of such dicts). The registry imports
every module of the packages in :data:`PACKAGES` and collects them, so a new query module
appears on the server without editing the services; a package that is not there (yet) is
skipped. Two processes with one id are a programming error, raised at once.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from typing import Any

PACKAGES = ("layers.query", "layers.approval", "layers.health", "layers.risk")
REQUIRED_KEYS = ("id", "title", "inputs", "run")
_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def _module_processes(module: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(getattr(module, "PROCESS", None), dict):
        found.append(module.PROCESS)
    found += [p for p in getattr(module, "PROCESSES", ()) or () if isinstance(p, dict)]
    return found


def _check(process: dict[str, Any], where: str) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in process]
    if missing:
        raise ValueError(f"{where}: process {process.get('id')!r} lacks {', '.join(missing)}")
    if not _ID.match(str(process["id"])):
        raise ValueError(f"{where}: process id {process['id']!r} is not a lower-case "
                         "identifier (letters, digits, -)")
    if not callable(process["run"]):
        raise ValueError(f"{where}: process {process['id']!r}: run is not callable")
    if not isinstance(process["inputs"], dict) or process["inputs"].get("type") != "object":
        raise ValueError(f"{where}: process {process['id']!r}: inputs must be a JSON Schema "
                         "of type object")


@functools.cache
def all_processes() -> dict[str, dict[str, Any]]:
    """Every registered process by id, in package and module order."""
    out: dict[str, dict[str, Any]] = {}
    where_of: dict[str, str] = {}
    for pkg_name in PACKAGES:
        try:
            pkg = importlib.import_module(pkg_name)
        except ModuleNotFoundError as exc:
            if exc.name == pkg_name:  # the package itself is absent, not a broken import in it
                continue
            raise
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            name = f"{pkg_name}.{info.name}"
            for p in _module_processes(importlib.import_module(name)):
                _check(p, name)
                if p["id"] in out and out[p["id"]] is not p:
                    raise ValueError(f"process id {p['id']!r} is declared by both "
                                     f"{where_of[p['id']]} and {name}")
                out[p["id"]] = p
                where_of[p["id"]] = name
    return out
