"""The ``cim`` command line. Settings are built here, at the entry, never at import time.

The core defines the group, the context and the core's own commands (database, `profile show`;
the loaders add `profile create` and `apply`, which read delivered files). The
rooms above it (loaders, layers, services) register their commands through the ``cim.commands``
entry-point group, so the core imports none of them: a room is found by its registration.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from cim.config import Settings
from cim.errors import CimError, ConfigError, DatabaseError, InputError


class _FiniteFloat(click.ParamType):
    """A float option that is a number: click's FLOAT reads "nan" and "inf", and a NaN
    radius passed every "> 0" check and crashed the database server in ``ST_Buffer``."""

    name = "float"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 (click's signature)
        v = click.FLOAT.convert(value, param, ctx)
        if v != v or v in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return v


FINITE_FLOAT = _FiniteFloat()


class Ctx:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._profile = None
        self._checked = False  # the database's revision (conninfo)

    @property
    def profile(self):
        from cim.profile import load_profile

        if self._profile is None:
            if self.settings.profile is None:
                raise ConfigError("no city profile: pass --profile FILE or set CIM_PROFILE "
                                  "(the sample profile comes with the data_samples package)")
            self._profile = load_profile(self.settings.profile)
        return self._profile

    def url(self) -> str:
        from cim.db.engine import database_url

        return database_url(self.settings, start=True)

    def conninfo(self) -> str:
        """The database's connection string, once its revision is checked: a command that
        writes into a database of another release's schema (the code updated, `cim db
        upgrade` forgotten — a cron job's `cim risk assess`, `cim iot gaps`) wrote rows of
        another shape, unsaid (exit 4 naming both revisions)."""
        from cim.db.engine import psycopg_conninfo

        info = psycopg_conninfo(self.url())
        if not self._checked:
            import psycopg

            from cim.db.revision import check_revision

            with psycopg.connect(info) as conn:
                try:
                    check_revision(conn)
                except psycopg.errors.InsufficientPrivilege:
                    pass  # a role that may not read the revision (the planners') writes none
            self._checked = True
        return info


pass_ctx = click.make_pass_decorator(Ctx)


def require_schema(c: Ctx) -> None:
    """Exit 4 unless the database is at the platform's revision, for a command that would
    otherwise answer "nothing to do" on a database without the schema (a cron job's `cim iot
    partitions` against the wrong database never noticed)."""
    c.conninfo()  # (checks the revision)


def imports_settled() -> None:
    """A command calls this once it has imported the modules it works with: their objects live
    until the process ends, so the collector is told to leave them alone (``gc.freeze``).
    Every full collection during the command, and the collections at the interpreter's exit,
    traversed them all: 0.13–0.2 s of every load command's exit (docs/benchmarks.md). Only
    the command-line process does this; objects made afterwards are collected as usual."""
    import gc

    gc.freeze()


def echo_json(data) -> None:
    """Print ``data`` as the JSON every ``--json`` option promises (UTF-8, times in RFC 3339
    as the HTTP answers give them)."""
    from cim.text import json_value

    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=json_value))


def print_reports(reports, as_json: bool) -> None:
    """Print load reports as text, or as JSON (one object, or a list of several)."""
    if as_json:
        echo_json([r.to_dict() for r in reports] if len(reports) > 1 else reports[0].to_dict())
    else:
        for r in reports:
            click.echo(r.text())


@click.group()
@click.option("--profile", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              envvar="CIM_PROFILE",
              help="City profile YAML (default: the Jining sample profile).")
@click.pass_context
def cli(ctx: click.Context, profile: Path | None) -> None:
    """CIM platform: load survey data into PostGIS and publish it through OGC APIs."""
    settings = Settings(profile=profile) if profile else Settings()
    ctx.obj = Ctx(settings)


# -- database -------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """The embedded PostGIS cluster (or CIM_DATABASE_URL) and its schema."""


@db.command("start")
@pass_ctx
def db_start(c: Ctx) -> None:
    """Start the project-local cluster (initialising it the first time); with
    CIM_DATABASE_URL, nothing to start: the URL it names, without its password (`make demo`
    runs this, and its output went to the terminal and to logs: `cim db url` prints it)."""
    url = c.url()
    if c.settings.database_url:
        from sqlalchemy.engine import make_url

        click.echo(f"{make_url(url).render_as_string(hide_password=True)} (CIM_DATABASE_URL: "
                   "an external database, nothing to start)")
        return
    click.echo(url)


@db.command("stop")
@pass_ctx
def db_stop(c: Ctx) -> None:
    """Stop the project-local cluster (with CIM_DATABASE_URL set: nothing, said so — it
    said "stopped" of the external database's and stopped the embedded one of CIM_HOME)."""
    from cim.db.cluster import Cluster

    if c.settings.database_url:
        click.echo("CIM_DATABASE_URL names an external database: nothing stopped (unset it "
                   "to stop the embedded cluster of CIM_HOME)")
        return
    Cluster(c.settings.home).stop()
    click.echo("stopped")


@db.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def db_status(c: Ctx, as_json: bool) -> None:
    """Show whether the cluster runs, where and on which port; with CIM_DATABASE_URL, the
    external database: its server, name and revision (a restored copy told apart)."""
    from cim.db.cluster import Cluster

    st = Cluster(c.settings.home).status() if not c.settings.database_url else \
        _external_status(c.url())
    if as_json:
        echo_json(st)
    else:
        for k, v in st.items():
            click.echo(f"{k:12} {v}")


def _external_status(url: str) -> dict:
    """An external database's server, name and revision (``reachable`` False, and why, when
    it cannot be reached: the status still answers)."""
    import psycopg

    from cim.db.engine import url_parts
    from cim.db.migrate import current
    from cim.db.revision import head_revision

    p = url_parts(url) or {}
    st = {"external": True, "host": p.get("host") or (p.get("query") or {}).get("host"),
          "port": p.get("port"), "database": p.get("database")}
    try:
        rev = current(url)
    except psycopg.Error as exc:
        return {**st, "reachable": False,
                "error": (str(exc).strip().splitlines() or [type(exc).__name__])[0]}
    return {**st, "reachable": True, "revision": rev, "head": head_revision()}


@db.command("url")
@pass_ctx
def db_url(c: Ctx) -> None:
    """Print the database URL (starts the cluster if needed)."""
    click.echo(c.url())


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_ctx
def db_upgrade(c: Ctx, revision: str) -> None:
    """Run Alembic migrations up to REVISION (default head)."""
    from cim.db.migrate import current, upgrade

    url = c.url()
    upgrade(url, c.profile.srid, revision)
    click.echo(f"database at revision {current(url)} (storage EPSG:{c.profile.srid})")


@db.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision")
@pass_ctx
def db_downgrade(c: Ctx, revision: str) -> None:
    """Undo migrations down to REVISION: a revision id, -1 for one step, base to drop every
    table. No default: a slip of the keyboard must not drop the city's data."""
    from cim.db.migrate import current, downgrade

    url = c.url()
    downgrade(url, c.profile.srid, revision)
    click.echo(f"database at revision {current(url)}")


# -- profile ------------------------------------------------------------------------------
@cli.group()
def profile() -> None:
    """The city profile: city, storage CRS, districts, grid, dictionaries."""


@profile.command("show")
@pass_ctx
def profile_show(c: Ctx) -> None:
    """Print the active profile."""
    p = c.profile
    echo_json({**p.to_dict(), "path": str(p.path), "boundaries": str(p.boundaries),
                "grid": str(p.grid)})


COMMAND_GROUP = "cim.commands"
_registered = False


def register_rooms() -> click.Group:
    """Add the commands of every room registered under the ``cim.commands`` entry points."""
    global _registered
    if not _registered:
        _registered = True
        for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
            ep.load()(cli)
        _profile_on_every_command(cli)
    return cli


def _set_profile(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        c = ctx.find_object(Ctx)
        c.settings = Settings(profile=value)
        c._profile = None


def _profile_on_every_command(group: click.Group) -> None:
    """Every command takes ``--profile FILE`` (README's CLI reference) after its name too:
    ``cim load buildings x.shp --profile city.yaml`` is ``cim --profile city.yaml load
    buildings x.shp`` (the group's option, read first, runs before the command's)."""
    for cmd in group.commands.values():
        if isinstance(cmd, click.Group):
            _profile_on_every_command(cmd)
        elif not any(isinstance(p, click.Option) and "--profile" in p.opts for p in cmd.params):
            cmd.params.append(click.Option(
                # a mistyped path is refused by every command, not only those reading it
                ["--profile"], type=click.Path(path_type=Path, exists=True, dir_okay=False),
                expose_value=False,
                callback=_set_profile,
                help="City profile YAML (as `cim --profile FILE …`; default: CIM_PROFILE, "
                     "else the Jining sample profile)."))


def main() -> None:
    register_rooms()
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _interrupted()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CimError as exc:
        click.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _is_database_unavailable(exc):
            err = DatabaseError(f"database unavailable: {str(exc).strip()}")
            click.echo(f"error: {err}", err=True)
            sys.exit(err.exit_code)
        garbled = _undecodable_argument(exc)
        if garbled is not None:
            click.echo(f"error: {garbled}", err=True)
            sys.exit(2)
        unmigrated = _unmigrated(exc)
        if unmigrated is not None:
            click.echo(f"error: {unmigrated}", err=True)
            sys.exit(unmigrated.exit_code)
        if not _is_gdal_input_error(exc):
            # a bug: its traceback goes to a log file, one line points at it (exit 1)
            from cim.crashlog import report_internal_error

            report_internal_error(exc)
            sys.exit(1)
        err = InputError(f"GDAL cannot read the input: {str(exc).strip()}")
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)


def _undecodable_argument(exc: BaseException) -> str | None:
    """What to say when text of the command line that is not text of the locale's encoding
    reached a place that needs text (the database, a file's content): a terminal sending GBK
    while the locale says UTF-8 gives Python arguments holding undecodable bytes (a file's
    name of such bytes is still found on disk, as given); None for any other error."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, UnicodeEncodeError) and "surrogate" in str(e):
            break
        e = e.__cause__ or e.__context__
    else:
        return None
    bad = [a for a in sys.argv[1:] if any("\udc80" <= c <= "\udcff" for c in a)]
    if not bad:
        return None
    shown = bad[0].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return (f"the command line holds bytes that are not {sys.getfilesystemencoding()} text "
            f"('{shown}'): the terminal's encoding is not the locale's — set the terminal to "
            "UTF-8, or LANG to the terminal's encoding (zh_CN.GB18030)")


def entry() -> None:
    """The ``cim`` command (and ``python -m cim``, ``python -m cim.cli``): :func:`main`, then a
    command that succeeded ends its process without tearing the interpreter down.

    The teardown frees every object of every module one by one — after a load, the arrays of
    a million rows, pandas, Arrow, GEOS and PROJ (~0.06–0.1 s of a 2.2 s reload on this VM,
    docs/benchmarks.md) — for nothing the operating system would not do at once. What the
    interpreter would still do that matters is done first: the ``atexit`` functions (logging's
    flush, temporary files' finalizers, multiprocessing's) and the output flushed. Not while
    another non-daemon thread runs (the interpreter would wait for it), nor for an error exit
    (``SystemExit``), which ends as usual. :func:`main` itself returns: in-process callers
    (tests) keep their interpreter."""
    main()
    _leave()


def _leave() -> None:
    import atexit
    import os
    import threading

    me = threading.main_thread()
    if any(t is not me and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # reported by the interpreter's own exit, as before
    os._exit(0)


# pyogrio's errors for a file GDAL cannot open or read (the loaders turn them into InputError;
# one that escapes is still a problem of the input, not a bug)
_GDAL_INPUT_ERRORS = {"DataSourceError", "DataLayerError", "FeatureError", "FieldError",
                      "GeometryError", "CRSError"}


def _is_database_unavailable(exc: BaseException) -> bool:
    """psycopg's OperationalError (server down, refused, bad credentials …). psycopg is not
    imported here at the start (a command that never connects does not pay for it); an
    exception of psycopg means psycopg is imported already."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.OperationalError)


def one_line(exc: CimError) -> str:
    """The error's one line (README: `error: FILE …: what is wrong`). A YAML file's parse
    error, which PyYAML writes over several lines with a caret drawing under the quoted line, is
    folded into one; an error that lists several problems on purpose (a project's input
    problems, one a line) is left as it is."""
    text = str(exc)
    yaml = sys.modules.get("yaml")
    if yaml is not None and isinstance(exc.__cause__, yaml.YAMLError):
        parts = (ln.strip() for ln in text.splitlines())
        text = " ".join(p for p in parts if p and set(p) != {"^"})
    return text


def _interrupted() -> None:
    """Ctrl-C: "aborted", exit 130 — unless every piece of work the command began had already
    committed (a load's report was printing): then it says so, exit 0."""
    from cim.interrupts import interrupted

    done, under_way = interrupted()
    if done:
        click.echo("interrupted; committed before it: " + "; ".join(done)
                   + ("" if under_way else " (the command's work is done)"), err=True)
        if not under_way:
            sys.exit(0)
    click.echo("aborted", err=True)
    sys.exit(130)


def _unmigrated(exc: BaseException) -> DatabaseError | None:
    """A table missing because the database's schema is behind the platform's (a database made
    with `createdb` and never upgraded, or one a release's migration has not reached yet) is
    the operator's to fix with `cim db upgrade`, not a bug: a DatabaseError saying so (exit 4).
    A table missing from a database at the head revision stays a bug (None)."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return None
    seen, e = set(), exc
    while e is not None and id(e) not in seen and not isinstance(e, psycopg.errors.UndefinedTable):
        seen.add(id(e))
        e = getattr(e, "orig", None) or e.__cause__ or e.__context__
    if not isinstance(e, psycopg.errors.UndefinedTable):
        return None
    try:
        from cim.db.engine import database_url

        behind = schema_behind(database_url(Settings()))
    except Exception:  # noqa: BLE001 - the check must not hide the original error
        return None
    if behind is None:
        return None
    return DatabaseError(f"{behind} ({str(e).strip().splitlines()[0]})")


def schema_behind(url: str) -> str | None:
    """What is wrong when the database at ``url`` is not at the migrations' head ("the
    database has no CIM schema, the platform needs … : run `cim db upgrade`"), else None."""
    from alembic.script import ScriptDirectory

    from cim.db.migrate import alembic_config, current

    head = ScriptDirectory.from_config(alembic_config(url, 0)).get_current_head()
    at = current(url)
    if at == head:
        return None
    from cim.db.revision import newer_problem

    if newer := newer_problem(at):
        return newer
    where = f"is at revision {at}" if at else "has no CIM schema"
    return f"the database {where}, the platform needs {head}: run `cim db upgrade`"


def _is_gdal_input_error(exc: BaseException) -> bool:
    cls = type(exc)
    return cls.__module__.startswith("pyogrio") and cls.__name__ in _GDAL_INPUT_ERRORS


if __name__ == "__main__":
    # the rooms import ``cim.cli``: run that module, not a second copy named __main__
    from cim.cli import entry as _entry

    _entry()
