"""The set-up promise of README's quick start on a fresh machine: `make demo` and `make test`
(Makefile, scripts/ensure-system.sh), as a new team member or CI (root, clean clone) runs them.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cim.config import PROJECT_ROOT

ENSURE = PROJECT_ROOT / "scripts" / "ensure-system.sh"


def _make(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIM_")}
    return subprocess.run(["make", "-s", "-f", str(PROJECT_ROOT / "Makefile"), *args],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                          env=env, **kw)


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _fake_debian(tmp_path: Path, missing: str, installable: bool) -> tuple[dict, Path]:
    """A machine as a fresh CI image is: the packages ``missing`` (space-separated) not
    installed, and no package index, so `apt-get install` fails until `apt-get update` ran
    (and then succeeds when ``installable``). apt-get's calls are logged, one a line."""
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "apt.log"
    index = tmp_path / "index"
    _fake(fake, "dpkg-query", f'for p in {missing}; do [ "${{@: -1}}" = "$p" ] && exit 1; done\n'
                              'echo "install ok installed"\n')
    _fake(fake, "apt-get", f'echo "$*" >> {log}\n'
                           f'case "$1" in update) touch {index};; install)\n'
                           f'  [ -f {index} ] && {"true" if installable else "false"} || '
                           '{ echo "E: Unable to locate package" >&2; exit 100; };; esac\n')
    _fake(fake, "apt-cache", "exit 0\n")
    _fake(fake, "sudo", 'exec "$@"\n')
    _fake(fake, "strace", "exit 0\n")  # there: the strace step stays out of these tests
    env = dict(os.environ, PATH=f"{fake}:/usr/bin:/bin", CIM_APT_LOG_DIR=str(tmp_path))
    return env, log


def test_make_test_installs_the_optional_packages_on_an_image_without_package_index(tmp_path):
    """CI's clean image has the base packages (PostgreSQL, PostGIS, GDAL) but no package index
    (Docker's images ship without /var/lib/apt/lists): `make test`'s optional installs
    (QGIS, Chromium) failed without refreshing it, so their tests skipped on every CI run.
    Now a failed install refreshes the index once and installs."""
    env, log = _fake_debian(tmp_path, "python3-qgis chromium-driver", installable=True)
    out = subprocess.run(["bash", str(ENSURE), "--test"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["install", "update", "install", "install"], calls
    assert "python3-qgis" in calls[2] and "chromium-driver" in calls[3], calls
    assert "not installed" not in out.stderr, out.stderr


def test_an_optional_package_the_archive_lacks_is_named_and_the_index_refreshed_once(tmp_path):
    """A package the archive does not have (no QGIS for the architecture): the script says
    which test will skip and where apt's output is, refreshes the index once only, and the
    set-up goes on (exit 0)."""
    env, log = _fake_debian(tmp_path, "python3-qgis chromium-driver", installable=False)
    out = subprocess.run(["bash", str(ENSURE), "--test"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    calls = log.read_text().splitlines()
    assert sum(c.startswith("update") for c in calls) == 1, calls
    assert f"python3-qgis qgis-providers not installed (see {tmp_path}/cim-apt-qgis.log)" \
        in out.stderr, out.stderr
    assert "the web map browser test will skip" in out.stderr, out.stderr


def test_make_demo_refuses_a_taken_port_before_loading():
    """`make demo` with PORT taken (another checkout's demo, another server) ran every load
    and the whole set-up, a minute or more, and only then `cim serve` refused. It stops before
    the cluster and the loads, saying which port and how to choose another."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = _make("port-free", f"PORT={port}")
        assert out.returncode != 0
        assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in out.stderr
        assert "PORT=8080 make demo" in out.stderr
    assert _make("port-free", f"PORT={port}").returncode == 0
    steps = _make("-n", "demo").stdout.replace("\\\n", " ").splitlines()
    check = next(i for i, c in enumerate(steps) if "_port_in_use" in c)
    first_db = next(i for i, c in enumerate(steps) if "cim db " in c)
    assert check < first_db, steps


def test_make_demo_makes_the_folder_of_its_reports(tmp_path):
    """As root in a checkout the postgres user cannot reach (a clone under /root), the
    cluster lives in /var/tmp and nothing made the checkout's .cim: `make demo` stopped at
    `cim health compute --report .cim/health_2026.html` with an internal error. The recipe
    makes .cim before its first command that writes there; run as make runs it, in a folder
    without .cim, the folder is there for the reports."""
    steps = _make("-n", "demo").stdout.replace("\\\n", " ").splitlines()
    writes = [i for i, c in enumerate(steps) if " .cim/" in c]
    assert writes, steps
    makes = [i for i, c in enumerate(steps) if c.startswith("mkdir -p .cim")]
    assert makes and makes[0] < writes[0], steps
    folder = tmp_path / "checkout"
    folder.mkdir()
    subprocess.run(["bash", "-c", steps[makes[0]]], cwd=folder, check=True)
    assert (folder / ".cim").is_dir()


def test_make_demo_prints_how_to_open_the_project_it_writes_in_qgis():
    """`make demo` wrote the one-map QGIS project and its pg service file and said nothing of
    either (README alone told that QGIS needs PGSERVICEFILE). The summary names both, by the
    absolute paths of the files the recipe's `cim qgis-project` step writes, and the reports."""
    import shlex

    steps = _make("-n", "demo").stdout.replace("\\\n", " ").splitlines()
    project = next(shlex.split(c) for c in steps if " qgis-project " in c)
    qgs = project[project.index("qgis-project") + 1]
    service = project[project.index("--service-file") + 1]
    summary = " ".join(c for c in steps if "echo " in c)
    assert f"PGSERVICEFILE={PROJECT_ROOT / service}" in summary, summary
    assert f"open {PROJECT_ROOT / qgs}" in summary, summary
    reports = [w for c in steps if " --report " in c
               for w in [shlex.split(c)[shlex.split(c).index("--report") + 1]]]
    assert reports and all(r in summary for r in reports), (reports, summary)
    cases = next(shlex.split(c) for c in steps if "demo-cases.sh" in c)
    tokens = next(w.split("=", 1)[1] for w in cases if w.startswith("CIM_DEMO_TOKENS="))
    assert tokens.endswith(".txt") and f"Bearer TOKEN on POST /cases…: {tokens}" in summary


def test_the_first_install_does_not_bury_the_demo_under_setuptools_warnings():
    """The editable install of a first `make demo` printed ~1,150 lines of setuptools' boxed
    warnings (one per data folder setup.cfg's discovery saw as a package) before anything of
    the demo. The data folders are package_data now (no such warning:
    tests/test_packaging12_wheel.py); the install filters only the notice every editable
    install prints, by a module setuptools has."""
    import importlib.util

    steps = _make("-n", "-B", ".venv/.installed").stdout.replace("\\\n", " ").splitlines()
    install = next(c for c in steps if "pip install" in c and "-e" in c)
    assert install.startswith("PYTHONWARNINGS="), install
    filters = install.split()[0].split("=", 1)[1].split(",")
    modules = [f.split(":")[3] for f in filters]
    assert set(modules) == {"setuptools.command.editable_wheel"}
    assert all(f.split(":")[:3] == ["ignore", "", ""] for f in filters), filters
    assert all(importlib.util.find_spec(m) for m in modules), modules


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster moves to /var/tmp only as root")
def test_make_clean_removes_the_cluster_kept_in_var_tmp(tmp_path):
    """As root in a checkout the postgres user cannot reach (a clone under /root), the
    cluster lives in /var/tmp/cim-cluster-*; `make clean` removed the checkout's .cim only and
    left the database there, found again by the next `make demo`. It goes too."""
    from cim.db.cluster import Cluster

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    checkout = private / "checkout"
    (checkout / ".cim").mkdir(parents=True)
    cluster = Cluster(checkout / ".cim")
    assert str(cluster.home).startswith("/var/tmp/cim-cluster-"), cluster.home
    try:
        cluster.init()
        assert (cluster.datadir / "PG_VERSION").exists()
        out = _make("-C", str(checkout), "clean", f"BIN={PROJECT_ROOT / '.venv' / 'bin'}",
                    f"VENV={checkout / '.venv'}")
        assert out.returncode == 0, out.stderr
        assert not cluster.home.exists(), out.stdout
        assert not (checkout / ".cim").exists()
    finally:
        shutil.rmtree(cluster.home, ignore_errors=True)


FAKE_CIM = r'''#!/usr/bin/env bash
# records the calls; the cases' listing is empty, so only the users and the hotline case remain
echo "$*" >> /tmp/cim-calls
case "$1 $2" in
  "case list") [ "${3:-}" = "--json" ] && echo "[]";;
esac
exit 0
'''


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a /tmp of the test's own")
def test_demo_cases_does_not_depend_on_a_shared_tmp_file():
    """scripts/demo-cases.sh kept `cim ops user add`'s errors in /tmp/cim-demo-user.err, one
    name for every user and checkout of the machine: after another user's demo the file was
    not writable, the add was never run, and the old "user … exists" message in the file
    passed it as done (or, unreadable, stopped the demo). Here /tmp holds such a name that
    cannot be written (a folder, as root cannot be refused a file): the users are still added."""
    script = PROJECT_ROOT / "scripts" / "demo-cases.sh"
    inner = ('set -e; mount -t tmpfs none /tmp; mkdir /tmp/cim-demo-user.err; '
             'printf "%s" "$FAKE" > /tmp/cim; chmod +x /tmp/cim; '
             f'CIM=/tmp/cim PY={sys.executable} bash {script} > /dev/null; '
             'cat /tmp/cim-calls; ls /tmp')
    out = subprocess.run(["unshare", "-m", "bash", "-c", inner], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, FAKE=FAKE_CIM))
    if "mount" in out.stderr and "permission denied" in out.stderr.lower():
        pytest.skip(f"no tmpfs of the test's own: {out.stderr.strip()}")
    assert out.returncode == 0, out.stderr
    adds = [c for c in out.stdout.splitlines() if c.startswith("ops user add")]
    assert [a.split()[3] for a in adds] == ["受理员-张", "派遣员-李", "核查员-王", "监督员-赵"], adds
    left = [f for f in out.stdout.split()
            if f.startswith("cim-demo-user.") and f != "cim-demo-user.err"]
    assert not left, f"the script's own file was left behind: {left}"


def test_demo_cases_keeps_the_tokens_it_is_given_once(tmp_path):
    """`cim ops user add` prints a user's token once, and demo-cases.sh threw it away: the
    demo's people of the case loop could not act over HTTP (Bearer token), and nothing `make
    demo` printed said how. The tokens are kept, owner-only, in CIM_DEMO_TOKENS (one line
    per user: name, role, token), and a second run (users exist) keeps the file as it is."""
    fake = tmp_path / "cim"
    users = tmp_path / "users"
    users.mkdir()
    fake.write_text(f'''#!/usr/bin/env bash
if [ "$1 $2 $3" = "ops user add" ]; then
  [ -e "{users}/$4" ] && {{ echo "error: field 'name': user '$4' exists" >&2; exit 2; }}
  echo "token-of-$4" | tee "{users}/$4"; exit 0
fi
[ "$1 $2 ${{3:-}}" = "case list --json" ] && echo "[]"
exit 0
''')
    fake.chmod(0o755)
    tokens = tmp_path / "tokens.txt"
    env = dict(os.environ, CIM=str(fake), PY=sys.executable, CIM_DEMO_TOKENS=str(tokens))
    script = PROJECT_ROOT / "scripts" / "demo-cases.sh"
    for _ in range(2):
        out = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        lines = [line.split("\t") for line in tokens.read_text(encoding="utf-8").splitlines()]
        assert lines == [[n, r, f"token-of-{n}"] for n, r in
                         [("受理员-张", "受理员"), ("派遣员-李", "派遣员"), ("核查员-王", "核查员"),
                          ("监督员-赵", "监督员")]], lines
        assert stat.S_IMODE(tokens.stat().st_mode) == 0o600


def test_the_apt_logs_are_the_runs_own(tmp_path):
    """ensure-system.sh wrote apt's output to fixed names (/tmp/cim-apt-qgis.log …): on a
    machine another user had set up first, the file was theirs and not writable, so the
    install was never tried. Each run that installs writes into a folder of its own (under
    TMPDIR), named in the message."""
    env, _log = _fake_debian(tmp_path, "python3-qgis chromium-driver", installable=False)
    del env["CIM_APT_LOG_DIR"]
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    out = subprocess.run(["bash", str(ENSURE), "--test"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    runs = list((tmp_path / "tmp").glob("cim-apt.*"))
    assert len(runs) == 1, runs
    assert f"(see {runs[0]}/cim-apt-qgis.log)" in out.stderr, out.stderr
    assert (runs[0] / "cim-apt-qgis.log").exists()
