"""Serve the OGC API with gunicorn (never Flask's debug server)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from cim.db.engine import psycopg_conninfo
from cim.profile import CityProfile
from services.config import URL_ENV, pygeoapi_config


def write_config(url: str, profile: CityProfile, host: str, port: int, home: Path) -> tuple[Path, Path]:
    """Write pygeoapi's config and OpenAPI document under ``home``; return their paths.

    Neither file holds the database password (see :mod:`services.config`): give the served
    process ``url`` through :func:`server_env`."""
    from pygeoapi.openapi import generate_openapi_document

    home.mkdir(parents=True, exist_ok=True)
    base = f"http://{host}:{port}"
    cfg = pygeoapi_config(url, psycopg_conninfo(url), profile, base, host, port)
    cfg_path = home / f"pygeoapi-{port}.yml"
    with open(cfg_path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(cfg, fh, allow_unicode=True, sort_keys=False)
    oas_path = home / f"openapi-{port}.yml"
    oas_path.write_text(generate_openapi_document(cfg_path, "yaml"), encoding="utf-8")
    return cfg_path, oas_path


def gunicorn_argv(host: str, port: int, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers",
            str(workers), "--timeout", "120", "--access-logfile", "-",
            "pygeoapi.flask_app:APP"]


def server_env(cfg_path: Path, oas_path: Path, url: str | None = None) -> dict[str, str]:
    """Environment of the served process; ``url`` (with its password) travels here, never
    in a file."""
    from cim.config import PROJECT_ROOT

    env = dict(os.environ)
    if url is not None:
        env[URL_ENV] = url
    env["PYGEOAPI_CONFIG"] = str(cfg_path)
    env["PYGEOAPI_OPENAPI"] = str(oas_path)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    return env


def serve_foreground(url: str, profile: CityProfile, host: str, port: int, workers: int,
                     home: Path) -> None:
    cfg_path, oas_path = write_config(url, profile, host, port, home)
    print(f"OGC API for {profile.city_name}: http://{host}:{port}/  "
          f"(collections: http://{host}:{port}/collections) — Ctrl-C stops", flush=True)
    argv = gunicorn_argv(host, port, workers)
    os.execve(argv[0], argv, server_env(cfg_path, oas_path, url))
