"""``cim check`` and ``cim checks``: the approval check from the command line.

The command wires the two rooms without making either import the other: the project file is
read by ``loaders.project`` (the loaders' safe GDAL opening, plain records) and checked by
``layers.approval`` (validation, rules, report, record), so the data still flows one way.
Exit codes: 0 every rule passes (or does not apply), 1 any fails or needs review, 2 bad input.

A project delivered as a ``.zip`` (a GeoPackage, GeoJSON or DXF inside, or a folder of
Shapefiles) is read as that one member: it is unpacked into a scratch folder and read there
by ``loaders.project`` as the same file outside a zip would be (its prechecks and the
``.dbf``'s encoding detection read real files, which GDAL's ``/vsizip/`` alone would skip).
Errors name the member as GDAL does (``/vsizip//path/p.zip/建筑.shp``); a zip holding several
possible projects is refused with their list, never one of them picked silently.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import click

from cim.cli import Ctx, echo_json, pass_ctx
from cim.errors import ConfigError, InputError
from loaders.sources.precheck import MAX_ZIP_MEMBERS, ZIP_ERRORS


@click.command("check")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--crs", default=None, help="CRS of the project file (default: the file's, "
              "else detected from the coordinates)")
@click.option("--rules", "rules", type=click.Path(path_type=Path), default=None,
              help="Rules file (default cim/dictionaries/approval_rules.yaml or the profile's)")
@click.option("--name", default=None, help="Project name (default: the file name)")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              help="Write the HTML report (self-contained, map included)")
@click.option("--pdf", type=click.Path(path_type=Path), default=None,
              help="Print the report to PDF with headless Chromium")
@click.option("--no-record", is_flag=True, help="Do not record the check in approval_checks")
@pass_ctx
def check_cmd(c: Ctx, project: Path, crs: str | None, rules: Path | None, name: str | None,
              as_json: bool, report: Path | None, pdf: Path | None, no_record: bool) -> None:
    """Check PROJECT (GeoPackage, GeoJSON, DXF, a Shapefile or a folder of Shapefiles, or
    a .zip holding one of them) against the planning rules."""
    _import_pyogrio_without_pandas()
    from layers.approval.check import check
    from layers.approval.config import load_config
    from layers.approval.mapdraw import draw_map
    from layers.approval.process import db_srid
    from layers.approval.project import build_project
    from layers.approval.record import record_check
    from layers.approval.report import print_pdf, render_html
    from loaders.project import read_project

    try:
        cfg = load_config(c.profile, rules)
        with project_source(project) as (read_path, source, zip_notes):
            pf = read_project(read_path, crs)
            if read_path != project:  # a member of a zip: the delivery is the zip file
                from loaders.engine.checksum import file_sha256

                pf.sha256 = file_sha256(project)
                pf.notes[:0] = zip_notes
        # the path as filed: absolute (as load_batches.source_path), not as typed in a shell
        proj = build_project(pf.records, source=source,
                             name=name or project.resolve().stem,
                             crs=pf.crs, storage_srid=db_srid(c.conninfo()),
                             profile=c.profile, config=cfg)
        proj.notes.extend(pf.notes)
    except (InputError, ConfigError) as exc:
        # bad input is exit 2 for this command (the CLI's InputError code is 3 elsewhere)
        from cim.cli import one_line

        click.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(2)
    result, ctx = check(c.conninfo(), proj, c.profile, cfg)
    # the file's identity in the filed report too, not only in the record's column: a path
    # names no content (the applicant's next version comes under the same name)
    result["project"]["file_sha256"] = pf.sha256
    html = None
    if report or pdf:
        html = render_html(result, draw_map(proj, ctx, result, c.profile))
        if report:
            Path(report).write_text(html, encoding="utf-8")
    if not no_record:
        result["record_id"] = record_check(c.conninfo(), result, pf.sha256, html)
    if pdf:
        try:
            print_pdf(html, pdf)
        except InputError as exc:
            click.echo(f"error: {exc} (the check itself is done"
                       + (f", recorded as {result['record_id']})" if not no_record else ")"),
                       err=True)
            sys.exit(2)
    if as_json:
        echo_json(result)
    else:
        s = result["summary"]
        for r in result["results"]:
            m = "" if r["measured"] is None else f" measured {r['measured']}"
            q = "" if r["required"] is None else f" required {r['required']}"
            click.echo(f"{r['status']:<15} {r['id']:<19} {r['title']['zh']}{m}{q}"
                       f"{' ' + r['unit'] if r['unit'] and (m or q) else ''}")
        click.echo(f"{s['status']}: " + ", ".join(f"{k} {n}" for k, n in s["counts"].items()))
    sys.exit(0 if result["summary"]["status"] == "pass" else 1)


PROJECT_FILES = (".gpkg", ".geojson", ".json", ".dxf")  # one member is one project
MAX_UNPACKED_BYTES = 2 << 30  # a project is a few MB: more is no project (a zip bomb)


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its writer meant it: a zip made on a Chinese Windows names its
    members in GBK without the UTF-8 flag, which ``zipfile`` reads as CP437 (建筑.shp as
    mojibake, so no layer named by convention and no role)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return info.filename


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The member's path parts, None for one a project has no use for (a folder, macOS's
    ``__MACOSX``/``._`` copies, hidden files) or that would land outside the scratch folder
    (``..``, an absolute path: a zip slip)."""
    pp = PurePosixPath(name.replace("\\", "/"))
    if name.endswith("/") or pp.is_absolute() or any(x in ("..", "") for x in pp.parts):
        return None
    if pp.parts[0] == "__MACOSX" or any(x.startswith(".") for x in pp.parts):
        return None
    return pp.parts


def _candidates(members: dict[str, zipfile.ZipInfo]) -> dict[str, list[str]]:
    """The zip's possible projects, each with the members it takes: a GeoPackage, GeoJSON
    or DXF member alone; a folder's Shapefiles together (with the files beside each: .shx,
    .dbf, .prj, .cpg), as a folder of Shapefiles is one project outside a zip."""
    out: dict[str, list[str]] = {}
    for name in members:
        pp = PurePosixPath(name)
        if pp.suffix.lower() in PROJECT_FILES:
            out[name] = [name]
        elif pp.suffix.lower() == ".shp":
            folder = str(pp.parent) + "/" if str(pp.parent) != "." else ""
            key = f"{folder}*.shp"
            stems = {PurePosixPath(m).stem for m in members
                     if PurePosixPath(m).parent == pp.parent
                     and PurePosixPath(m).suffix.lower() == ".shp"}
            out[key] = sorted(m for m in members if PurePosixPath(m).parent == pp.parent
                              and PurePosixPath(m).stem in stems)
    return out


def _unpack(zpath: Path, shown: Path, scratch: Path) -> tuple[Path, str, list[str]]:
    """The zip's one project unpacked into ``scratch``: (the path to read, its name as GDAL's
    ``/vsizip/`` writes it, the members not read). ``shown``: the zip as the user named it,
    for the errors."""
    try:
        with zipfile.ZipFile(zpath) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:  # the loaders' bound on a zip's members
                raise InputError(f"the zip holds {len(infos)} members (more than "
                                 f"{MAX_ZIP_MEMBERS}): no project is that many files",
                                 path=str(shown))
            names = [(_member_name(i), i) for i in infos if not i.is_dir()]
            members = {n: i for n, i in names if _safe_parts(n) is not None}
            unsafe = [n for n, _ in names if _safe_parts(n) is None
                      and not PurePosixPath(n).name.startswith(".")
                      and not n.startswith("__MACOSX/")]
            found = _candidates(members)
            if not found:
                raise InputError("the zip holds no project (a GeoPackage, GeoJSON, DXF or "
                                 "Shapefiles); it holds: "
                                 + (", ".join(sorted(members)) or "nothing")
                                 + (f"; refused (a path out of the zip): {', '.join(unsafe)}"
                                    if unsafe else ""), path=str(shown))
            if len(found) > 1:
                raise InputError(f"the zip holds {len(found)} possible projects: "
                                 + "; ".join(sorted(found)) + " — deliver one project a zip "
                                 "(or unpack it and name the file)", path=str(shown))
            (key, take), = found.items()
            if sum(members[m].file_size for m in take) > MAX_UNPACKED_BYTES:
                raise InputError(f"{key} unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB: "
                                 "no project is that large", path=str(shown))
            for m in take:
                dest = scratch.joinpath(*(_safe_parts(m) or ()))
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(members[m]) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (*ZIP_ERRORS, zipfile.LargeZipFile, OSError) as exc:  # zlib.error: a bad stream
        raise InputError(f"not a readable zip: {exc}", path=str(shown)) from exc
    left = sorted(set(members) - set(take)) + [f"{n} (a path out of the zip)" for n in unsafe]
    if key.endswith("*.shp"):  # a folder of Shapefiles: the folder is the project
        folder = PurePosixPath(take[0]).parent
        inner = "" if str(folder) == "." else f"/{folder}"
        return scratch.joinpath(*folder.parts), f"/vsizip/{zpath}{inner}", left
    return scratch.joinpath(*PurePosixPath(key).parts), f"/vsizip/{zpath}/{key}", left


@contextlib.contextmanager
def project_source(path: Path) -> Iterator[tuple[Path, str, list[str]]]:
    """(the path ``loaders.project`` reads, the project's source as filed, notes): the path
    itself (absolute), or for a ``.zip`` its one project unpacked into a scratch folder,
    removed after, and named ``/vsizip/ZIP/MEMBER``, the members not read noted. An input
    error raised reading the member names the member, not the scratch folder."""
    if path.suffix.lower() != ".zip" or path.is_dir():
        yield path, str(path.resolve()), []
        return
    zpath = path.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="cim-check-zip-"))
    try:
        read, shown, left = _unpack(zpath, path, scratch)
        notes = [f"read {shown}, the zip's one project"]
        if left:
            notes.append("not read from the zip: " + ", ".join(left))
        try:
            yield read, shown, notes
        except InputError as exc:
            raise _renamed(exc, scratch, f"/vsizip/{zpath}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _renamed(exc: InputError, scratch: Path, shown: str) -> InputError:
    """``exc`` with the scratch folder written as the zip it came from."""
    def fix(t: str | None) -> str | None:
        return None if t is None else t.replace(str(scratch), shown)

    out = type(exc)(fix(exc.message) or "", path=fix(exc.path), row=exc.row, field=exc.field)
    return out


def _import_pyogrio_without_pandas() -> None:
    """Import pyogrio with pandas and geopandas hidden, unless one of them is imported already.

    ``cim check`` is a short process that reads one small file through pyogrio's Arrow reader
    (``loaders.project``: Python values, no pandas) and exits. pyogrio's own import tries
    pandas and geopandas, for ``read_dataframe``, which this process never calls: about 0.3 s
    of CPU, a sixth of a check with its report (the target is 2 s, docs/benchmarks.md).
    Hidden, they are recorded by pyogrio as absent; they are visible again right after, so a
    later ``import pandas`` works as ever. Should pyogrio not import without them, its modules
    are dropped and it is imported as usual. Only this command does it (a long-lived process,
    the server or the tests, could want ``read_dataframe`` later).
    """
    hidden = ("pandas", "geopandas")
    if "pyogrio" in sys.modules or any(m in sys.modules for m in hidden):
        return
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]  # `import m` raises ImportError
    try:
        import pyogrio  # noqa: F401
    except ImportError:
        for m in [m for m in sys.modules if m == "pyogrio" or m.startswith("pyogrio.")]:
            del sys.modules[m]
    finally:
        for m in hidden:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]


@click.command("checks")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=100, show_default=True)
@pass_ctx
def checks_cmd(c: Ctx, as_json: bool, limit: int) -> None:
    """The recorded approval checks, latest first."""
    from layers.approval.record import list_checks

    rows = list_checks(c.conninfo(), limit)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in (r["counts"] or {}).items() if v)
        click.echo(f"{r['id']:>5} {r['checked_at']:%Y-%m-%d %H:%M:%S} {r['status']:<13} "
                   f"{r['project']}  ({counts})")
    if not rows:
        click.echo("no approval check recorded (`cim check PROJECT` records one)")
