"""An installed package works: build the wheel, install it (not editable) into a fresh
virtualenv, and run ``cim`` from a folder that is not the checkout.

Offline and quick: the wheel is built with this environment's setuptools (no build isolation)
from a copy of the sources, and the new virtualenv reuses this environment's third-party
packages through a ``.pth`` line (a plain path: the editable install's own ``.pth`` hooks are
not run, so the checkout never leaks in).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import psycopg
import pyogrio
import pytest
from sqlalchemy.engine import make_url

from cim.config import PROJECT_ROOT
from cim.db.engine import drop_database, ensure_database, psycopg_conninfo
from tests.conftest import server_url

SOURCES = ["setup.cfg", "pyproject.toml", "README.md", "cim", "loaders", "layers", "services",
           "data_samples"]
# what must come with the package: every file of these source folders
PACKAGE_DATA = ["cim/dictionaries", "cim/db/migrations", "data_samples/jining"]


def _run(argv: list, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600,
                          **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _files(root: Path, sub: str) -> set[str]:
    return {str(p.relative_to(root)) for p in (root / sub).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the new virtualenv's python, its site-packages) with the wheel installed."""
    work = tmp_path_factory.mktemp("install")
    src = work / "src"
    for name in SOURCES:
        p = PROJECT_ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, src / name)
    wheels = work / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", wheels, src], cwd=work)
    (wheel,) = wheels.glob("cim_platform-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "-q", wheel], cwd=work)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                     ).stdout.strip())
    # the third-party dependencies of this environment, after the new site-packages
    (site / "_cim_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site


@pytest.fixture()
def empty_db():
    """An empty database (no PostGIS, no schema) for `cim db upgrade` to migrate."""
    name = f"cim_test_install_{os.getpid()}"
    drop_database(server_url(), name)
    ensure_database(server_url(), name)
    url = make_url(server_url()).set(database=name, drivername="postgresql+psycopg") \
        .render_as_string(hide_password=False)
    yield url
    drop_database(server_url(), name)


def test_the_wheel_holds_dictionaries_migrations_and_the_sample(installed):
    _, site = installed
    for sub in PACKAGE_DATA:
        expected = _files(PROJECT_ROOT, sub)
        assert expected, sub
        assert expected <= _files(site, sub), f"{sub}: {sorted(expected - _files(site, sub))}"
    for f in ("cim/dictionaries/pipe_features.csv", "cim/db/migrations/script.py.mako",
              "cim/db/migrations/versions/0001_foundation.py", "data_samples/jining/profile.yaml",
              "data_samples/jining/boundaries.gpkg", "data_samples/jining/grid_cells.gpkg"):
        assert (site / f).is_file(), f


def test_installed_cim_runs_from_another_folder(installed, empty_db, tmp_path):
    python, site = installed
    cim = python.parent / "cim"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CIM_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(CIM_DATABASE_URL=empty_db, CIM_HOME=str(tmp_path / "home"),
               PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")

    where = _run([python, "-c", "import cim, loaders, data_samples; "
                  "print(cim.__file__, loaders.__file__, data_samples.__file__)"],
                 cwd=cwd, env=env).stdout.split()
    assert all(Path(w).is_relative_to(site) for w in where), where

    helptext = _run([cim, "--help"], cwd=cwd, env=env).stdout
    for command in ("load", "batches", "rejects", "serve", "db", "profile"):
        assert f"\n  {command} " in helptext, command

    shown = json.loads(_run([cim, "profile", "show"], cwd=cwd, env=env).stdout)
    assert shown["city"]["name"] == "济宁市" and shown["storage_crs"] == "EPSG:4527"
    sample = site / "data_samples" / "jining"
    assert Path(shown["path"]) == sample / "profile.yaml"
    assert Path(shown["grid"]) == sample / "grid_cells.gpkg"

    head = _head_revision(PROJECT_ROOT / "cim" / "db" / "migrations" / "versions")
    out = _run([cim, "db", "upgrade"], cwd=cwd, env=env).stdout
    assert f"revision {head}" in out
    conninfo = psycopg_conninfo(empty_db)
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head
    from cim.db.schema import schema_drift

    assert schema_drift(conninfo, 4527) == []

    # the sample's boundary and grid files are read from the installed package
    _run([cim, "profile", "apply", "--quiet"], cwd=cwd, env=env)
    districts = pyogrio.read_info(sample / "boundaries.gpkg")["features"]
    cells = pyogrio.read_info(sample / "grid_cells.gpkg")["features"]
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM admin_divisions WHERE valid_to IS NULL"
                            ).fetchone()[0] == districts == 2
        assert conn.execute("SELECT count(*) FROM grid_cells WHERE valid_to IS NULL"
                            ).fetchone()[0] == cells
    assert list(cwd.iterdir()) == []  # nothing written where the command ran


def test_installed_cim_home_is_outside_site_packages(installed, tmp_path):
    python, _ = installed
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CIM_") and k not in ("PYTHONPATH", "XDG_DATA_HOME")}
    env["HOME"] = str(tmp_path / "user")
    home = _run([python, "-c", "from cim.config import Settings; print(Settings().home)"],
                cwd=tmp_path, env=env).stdout.strip()
    assert Path(home) == tmp_path / "user" / ".local" / "share" / "cim"


def test_cim_home_resolution(tmp_path, monkeypatch):
    from cim import config

    monkeypatch.delenv("CIM_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert config.Settings().home == PROJECT_ROOT / ".cim"  # running from the checkout
    (tmp_path / ".cim").mkdir()
    assert config.Settings().home == tmp_path / ".cim"  # the current folder's own
    monkeypatch.setenv("CIM_HOME", str(tmp_path / "elsewhere"))
    assert config.Settings().home == tmp_path / "elsewhere"


def _head_revision(versions: Path) -> str:
    """The one revision no other migration names as its down_revision, read from the files."""
    import re

    revs, downs = set(), set()
    for f in versions.glob("*.py"):
        text = f.read_text(encoding="utf-8")
        rev = re.search(r'^revision\s*=\s*"([^"]+)"', text, re.M)
        down = re.search(r'^down_revision\s*=\s*"([^"]+)"', text, re.M)
        if rev:
            revs.add(rev.group(1))
        if down:
            downs.add(down.group(1))
    heads = revs - downs
    assert len(heads) == 1, f"migrations must form one chain, heads: {heads}"
    return heads.pop()


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return {int(p) for p in out.split()}


def test_make_stop_stops_a_server_left_in_the_background(fresh_db, tmp_path):
    """`make demo` run in the background (or `make serve &`) and then `make stop`: the OGC
    API's gunicorn (master and workers) stops too, not only the cluster — it was left serving
    500s on the port with the database gone. Run in a folder with its own .cim and no .venv,
    so the cluster step (`cim db stop`) has nothing to stop."""
    import requests

    from tests.conftest import start_api

    home = tmp_path / ".cim"
    home.mkdir()
    proc, base = start_api(fresh_db.url, fresh_db.profile, home)
    try:
        workers = _children(proc.pid)
        assert workers, "gunicorn has no workers"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIM_")}
        out = subprocess.run(["make", "-s", "-f", str(PROJECT_ROOT / "Makefile"), "-C",
                              str(tmp_path), "stop"], capture_output=True, text=True,
                             timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        assert proc.wait(timeout=60) == 0, "the server's master is still running"
        assert not any(Path(f"/proc/{w}").exists() for w in workers), workers
        assert list(home.glob("gunicorn-*.pid")) == []
        with pytest.raises(requests.ConnectionError):
            requests.get(base + "/conformance", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _demo_commands(word: str) -> list[str]:
    """The shell commands of `make demo`'s recipe containing ``word`` (as make runs them)."""
    out = subprocess.run(["make", "-n", "-s", "-f", str(PROJECT_ROOT / "Makefile"), "demo"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60).stdout
    return [c for c in out.replace("\\\n", " ").splitlines() if word in c]


def test_make_demo_loads_print_their_summaries(fresh_db, tmp_path):
    """README: the demo's pipe survey is "loaded after survey QA rejected or flagged its seeded
    errors" — `make demo` must show it. The pipe loads ran with --quiet and printed nothing
    (the other loads print their batch summary under --quiet). Each `cim load` of the recipe,
    run as make runs it, prints its batch with what was rejected."""
    loads = _demo_commands(" load ")
    assert any(" load pipes " in c for c in loads), loads
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIM_")}
    env.update(CIM_DATABASE_URL=fresh_db.url, CIM_HOME=str(tmp_path / "home"))
    for command in loads:
        out = subprocess.run(["bash", "-c", command], cwd=PROJECT_ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"{command}:\n{out.stderr}"
        assert "load batch" in out.stdout and "rejected" in out.stdout, \
            f"{command} printed no summary:\n{out.stdout}"


def test_served_gunicorn_writes_nothing_in_the_users_home(fresh_db, tmp_path, monkeypatch):
    """gunicorn 27 opens a control socket at ~/.gunicorn/gunicorn.ctl, one path for every
    server of the user: the demo's, another checkout's and the tests' servers took it over
    from each other and removed it on exit. `cim serve`'s gunicorn opens none and leaves the
    user's home alone."""
    from tests.conftest import start_api

    user_home = tmp_path / "user"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    home = tmp_path / ".cim"
    home.mkdir()
    proc, _base = start_api(fresh_db.url, fresh_db.profile, home)
    try:
        assert list(user_home.iterdir()) == []
        assert "Control socket" not in (home / "gunicorn.log").read_text()
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_prints_where_everything_is_and_each_address_answers(fresh_db, tmp_path,
                                                                    monkeypatch, capsys):
    """`make demo` ends with `cim serve`'s banner: it named the landing page and /collections
    only, not the web map README's demo section leads to. Every address it prints answers, and
    the web map and the API's documentation are among them."""
    import re

    import requests

    from services import serve
    from services.settings import ServeSettings
    from tests.conftest import start_api

    home = tmp_path / ".cim"
    home.mkdir()
    proc, base = start_api(fresh_db.url, fresh_db.profile, home)
    try:
        port = int(base.rsplit(":", 1)[1])
        execs = []
        monkeypatch.setattr(serve.os, "execve", lambda *a: execs.append(a))
        serve.serve_foreground(fresh_db.url, ServeSettings(host="127.0.0.1", port=port,
                                                          home=home), "济宁市")
        assert execs and "gunicorn" in execs[0][1]
        urls = re.findall(r"http://\S+", capsys.readouterr().out)
        answers = {u: requests.get(u, timeout=60, headers={"Accept": "text/html"})
                   for u in urls}
        assert all(r.status_code == 200 for r in answers.values()), \
            {u: r.status_code for u, r in answers.items()}
        assert any("maplibre" in r.text for r in answers.values()), "no web map printed"
        assert any("swagger" in r.text.lower() for r in answers.values()), "no API docs"
    finally:
        proc.terminate()
        proc.wait(30)
