"""The services' commands: ``cim serve``."""

from __future__ import annotations

import click

from cim.cli import Ctx, pass_ctx


def register(cli: click.Group) -> None:
    """Add the services' commands to ``cli``."""
    cli.add_command(serve)


# -- serving ------------------------------------------------------------------------------
@click.command("serve")
@click.option("--host", default=None, help="Bind address (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default 5000)")
@click.option("--workers", default=2, show_default=True)
@pass_ctx
def serve(c: Ctx, host: str | None, port: int | None, workers: int) -> None:
    """Serve the OGC API (pygeoapi under gunicorn) in the foreground."""
    from services.serve import serve_foreground

    serve_foreground(c.url(), c.profile, host or c.settings.host, port or c.settings.port,
                     workers=workers, home=c.settings.home)


