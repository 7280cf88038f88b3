"""Serve the OGC API: the platform's app (:mod:`services.app`) under gunicorn, never Flask's
debug server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

from cim.db.engine import psycopg_conninfo
from cim.profile import CityProfile
from services.config import URL_ENV, pygeoapi_config
from services.settings import ServeSettings

APP_FACTORY = "services.app:create_app()"


WILDCARDS = ("0.0.0.0", "::", "")  # bind addresses no client can reach the server at


def public_base(host: str, port: int, public_url: str | None = None) -> str:
    """The address the served documents name the server by: ``public_url`` (CIM_PUBLIC_URL),
    else ``http://host:port`` — for a wildcard ``host`` this machine's address on its
    network. Served on 0.0.0.0 for colleagues' PCs, every page's script, tile and ``next``
    link pointed at http://0.0.0.0:5000, which their browsers and QGIS cannot reach."""
    if public_url:
        return public_url.rstrip("/")
    if host in WILDCARDS:
        host = machine_address()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def machine_address() -> str:
    """This machine's address on the network its default route leaves by (a UDP socket's
    own address once it is connected: nothing is sent), else its host name."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            addr = s.getsockname()[0]
        if addr and not addr.startswith("0."):
            return addr
    except OSError:
        pass
    return socket.gethostname()


def write_config(url: str, profile: CityProfile, host: str, port: int, home: Path,
                 limits: Any = None, basemap_url: str | None = None,
                 public_url: str | None = None) -> tuple[Path, Path]:
    """Write pygeoapi's config and OpenAPI document under ``home``; return their paths.

    Neither file holds the database password (see :mod:`services.config`): give the served
    process ``url`` through :func:`server_env`. Each file is written whole and then renamed,
    so a process reading it never sees half of one."""
    from pygeoapi.openapi import generate_openapi_document

    from services.openapi import platform_openapi_text

    home.mkdir(parents=True, exist_ok=True)
    base = public_base(host, port, public_url)
    cfg = pygeoapi_config(url, psycopg_conninfo(url), profile, base, host, port, limits,
                          basemap_url=basemap_url)
    cfg_path = home / f"pygeoapi-{port}.yml"
    tmp = cfg_path.with_name(f".{cfg_path.name}.{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        yaml.safe_dump(cfg, fh, allow_unicode=True, sort_keys=False)
    tmp.replace(cfg_path)
    oas_path = home / f"openapi-{port}.yml"
    tmp = oas_path.with_name(f".{oas_path.name}.{os.getpid()}")
    # self-contained (no $ref to a schema host) and with the platform's own parameters
    from services.tiles import tiled_collections

    tmp.write_text(platform_openapi_text(generate_openapi_document(cfg_path, "yaml"),
                                         tiled_collections(cfg)), encoding="utf-8")
    tmp.replace(oas_path)
    return cfg_path, oas_path


def gunicorn_argv(settings: ServeSettings) -> list[str]:
    """gunicorn serving :func:`services.app.create_app` with ``settings``' sizing.

    ``--preload``: the app (configuration, OpenAPI document, pygeoapi) is built once in the
    master and forked into the workers; database connections are opened in each worker, on
    its first request (:mod:`services.pool`).

    ``--pid``: the master's pid in ``home/gunicorn-PORT.pid`` (gunicorn removes it on exit),
    so ``make stop`` can stop a server started in the background, not only the cluster.

    ``--no-control-socket`` (gunicorn 27+): its control socket is one path per user,
    ``~/.gunicorn/gunicorn.ctl``, which every server of the user (the demo, another checkout's,
    the tests') took over from the one before and removed on exit; the platform does not use
    it (it stops a server by its pid)."""
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{settings.host}:{settings.port}",
            "--workers", str(settings.workers), "--threads", str(settings.threads),
            "--worker-class", "gthread", "--timeout", str(settings.timeout),
            "--graceful-timeout", str(settings.graceful_timeout),
            "--keep-alive", str(settings.keepalive),
            "--limit-request-line", str(settings.limit_request_line), "--preload",
            "--pid", str(pid_file(settings))]
    if _has_control_socket():
        argv.append("--no-control-socket")
    if settings.access_log:
        argv += ["--access-logfile", "-"]
    return argv + [APP_FACTORY]


def _has_control_socket() -> bool:
    """Whether this gunicorn has the control socket (27+; the requirement allows 22)."""
    from gunicorn.config import KNOWN_SETTINGS

    return any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS)


def pid_file(settings: ServeSettings) -> Path:
    """Where the server on ``settings.port`` keeps its master's pid (under the CIM home)."""
    return Path(settings.home) / f"gunicorn-{settings.port}.pid"


def server_env(settings: ServeSettings, url: str | None = None) -> dict[str, str]:
    """Environment of the served process: ``settings`` as ``CIM_`` variables; ``url`` (with
    its password) travels here, never in a file."""
    from cim.config import PROJECT_ROOT

    env = dict(os.environ)
    env.update(settings.gunicorn_env())
    if url is not None:
        env[URL_ENV] = url
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    return env


def serve_foreground(url: str, settings: ServeSettings, city_name: str) -> None:
    """Replace this process with gunicorn serving the platform's app."""
    from cim.db.engine import psycopg_conninfo
    from cim.db.roles import serving_url
    from cim.errors import DatabaseError
    from services.app import reader_login_problem

    problem = reader_login_problem(psycopg_conninfo(serving_url(url)))
    if problem:
        raise DatabaseError(problem)
    base = public_base(settings.host, settings.port, settings.public_url)
    if settings.host in WILDCARDS and not settings.public_url:
        print(f"(listening on all addresses; links name {base} — set CIM_PUBLIC_URL or "
              "--public-url to the address colleagues use)", flush=True)
    print(f"OGC API for {city_name}: {base}/  ({settings.workers} workers × "
          f"{settings.threads} threads) — Ctrl-C stops\n"
          f"  collections  {base}/collections\n"
          f"  web map      {base}/map\n"
          f"  API docs     {base}/openapi\n"
          f"  QGIS         Layer → Add Layer → Add WFS / OGC API – Features Layer, URL {base}",
          flush=True)
    argv = gunicorn_argv(settings)
    # the server gets the read-only role's URL only: the admin's password never reaches it
    os.execve(argv[0], argv, server_env(settings, serving_url(url)))
