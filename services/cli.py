"""The services' commands: ``cim serve``, ``cim check`` and ``cim checks``
(services/approval_cli.py)."""

from __future__ import annotations

import click

from cim.cli import Ctx, pass_ctx


def register(cli: click.Group) -> None:
    """Add the services' commands to ``cli``."""
    from services.approval_cli import check_cmd, checks_cmd

    cli.add_command(serve)
    cli.add_command(check_cmd)
    cli.add_command(checks_cmd)


# -- serving ------------------------------------------------------------------------------
@click.command("serve")
@click.option("--host", default=None, help="Bind address (default CIM_HOST or 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default CIM_PORT or 5000)")
@click.option("--workers", default=None, type=int,
              help="gunicorn worker processes (default CIM_WORKERS or 2)")
@click.option("--threads", default=None, type=int,
              help="threads per worker (default CIM_THREADS or 4)")
@click.option("--timeout", default=None, type=int,
              help="seconds before a stuck worker is restarted (default CIM_TIMEOUT or 60)")
@click.option("--access-log/--no-access-log", default=None,
              help="log every request to stdout (default CIM_ACCESS_LOG or on)")
@click.option("--public-url", default=None,
              help="the address clients reach the server at, its links' start (default "
                   "CIM_PUBLIC_URL, else http://HOST:PORT; for --host 0.0.0.0 this "
                   "machine's address)")
@pass_ctx
def serve(c: Ctx, host: str | None, port: int | None, workers: int | None,
          threads: int | None, timeout: int | None, access_log: bool | None,
          public_url: str | None) -> None:
    """Serve the OGC API (the platform's app around pygeoapi, under gunicorn) in the
    foreground. Page sizes and the count cap: CIM_ITEMS_DEFAULT_LIMIT, CIM_ITEMS_MAX_LIMIT,
    CIM_ITEMS_MAX_OFFSET, CIM_COUNT_CAP."""
    from services.serve import serve_foreground
    from services.settings import ServeSettings

    given = {"host": host, "port": port, "workers": workers, "threads": threads,
             "timeout": timeout, "access_log": access_log, "public_url": public_url}
    settings = ServeSettings(**{**c.settings.model_dump(exclude_unset=True),
                                **{k: v for k, v in given.items() if v is not None}})
    if settings.profile is None:
        settings.profile = c.profile.path
    # a database not migrated to head (made with createdb, or before a release's migration)
    # would be served with its collections missing and 500s on the rest: refused instead
    from cim.cli import schema_behind
    from cim.errors import DatabaseError

    behind = schema_behind(c.url())
    if behind:
        raise DatabaseError(behind)
    in_use = _port_in_use(settings.host, settings.port)
    if in_use:
        from cim.errors import ConfigError

        raise ConfigError(f"cannot serve on {settings.host}:{settings.port}: {in_use} — another "
                          "server listens there (`make stop` stops this checkout's); choose "
                          "another port with --port or PORT=8080 make demo")
    # readings partitions ahead, as the owner: the served role cannot create them (issue 14)
    from layers.iot.partitions import ensure_partitions
    from layers.iot.thresholds import load_config

    iot = load_config(c.profile)
    ensure_partitions(c.conninfo(), iot.ahead, iot.behind)
    serve_foreground(c.url(), settings, c.profile.city_name)


def _port_in_use(host: str, port: int) -> str | None:
    """Why gunicorn could not listen on host:port (its own bind, SO_REUSEADDR and all), or
    None. Checked before the addresses are announced: gunicorn, told a port in use, logs five
    retries a second apart and exits 1, after `cim serve` has printed them as served."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return str(exc)
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
