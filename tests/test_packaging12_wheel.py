"""The wheel carries every data file the code opens, and building it prints no setuptools
warnings (session 12).

setup.cfg had ``include_package_data = True`` beside explicit ``package_data``: setuptools
then warned, per file, that each data folder (dictionaries, schemas, the web map's vendored
assets, the sample) "is absent from the `packages` configuration" — ~1,150 boxed lines on
an install, which the Makefile filtered out. The data is now declared only in package_data;
this test builds the wheel from a copy of the sources (offline, this environment's setuptools,
no pip) and reads what it holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cim.config import PROJECT_ROOT

SOURCES = ["setup.cfg", "pyproject.toml", "README.md", "cim", "loaders", "layers", "services",
           "data_samples"]
PACKAGES = ["cim", "loaders", "layers", "services", "data_samples"]
# files of the source folders that no installed command reads: the sample folder's notes and
# the approval-project samples (tests and the README's walk-through use them from a checkout)
DEV_ONLY = {"data_samples/README.md"}
DEV_ONLY_FOLDERS = ("data_samples/projects/",)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[set[str], str, Path]:
    """(the files in the wheel, what the build printed, the copy it was built from — what
    is expected is read there: others edit the checkout meanwhile)."""
    work = tmp_path_factory.mktemp("wheel12")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        p = PROJECT_ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(p, src / name)
    out = work / "dist"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, setuptools.build_meta as b; "
         "print(b.build_wheel(sys.argv[1]))", str(out)],
        cwd=src, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("cim_platform-*.whl")
    with zipfile.ZipFile(whl) as z:
        names = {n for n in z.namelist() if ".dist-info/" not in n}
    return names, proc.stdout + proc.stderr, src


def _files(src: Path, folder: Path) -> set[str]:
    """The files under ``folder`` (a folder of the checkout) in the copy ``src``."""
    root = src / folder.relative_to(PROJECT_ROOT)
    return {p.relative_to(src).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_the_build_prints_no_package_discovery_warnings(wheel):
    _, printed, _ = wheel
    assert "is absent from the `packages` configuration" not in printed, printed[:3000]
    assert "setuptools.command.build_py" not in printed, printed[:3000]


def test_every_folder_the_code_reads_is_in_the_wheel(wheel):
    """The folders named by the modules that open them, every file inside."""
    from cim.db.migrate import MIGRATIONS
    from cim.profile import DICTIONARY_DIR
    from services import webmap
    from services.openapi import SCHEMAS

    names, _, src = wheel
    folders = [DICTIONARY_DIR, MIGRATIONS, SCHEMAS, webmap.STATIC, webmap.PYGEOAPI_TEMPLATES,
               webmap.PYGEOAPI_LOCALE, webmap.HERE / "templates",
               PROJECT_ROOT / "data_samples" / "jining"]
    for folder in folders:
        expected = _files(src, folder)
        assert expected, folder
        assert expected <= names, f"{folder}: missing {sorted(expected - names)}"
    for f in ("cim/dictionaries/health_indicators.yaml", "cim/db/migrations/script.py.mako",
              "services/webmap/templates/map.html", "data_samples/jining/profile.yaml",
              "services/webmap/pygeoapi_locale/zh/LC_MESSAGES/messages.mo"):
        assert f in names, f


def test_every_source_file_is_in_the_wheel_but_the_dev_only_ones(wheel):
    """A data folder added later without a package_data line is found here, not by a city
    running an installed platform."""
    names, _, src = wheel
    expected = set().union(*(_files(src, PROJECT_ROOT / p) for p in PACKAGES))
    expected = {f for f in expected
                if f not in DEV_ONLY and not f.startswith(DEV_ONLY_FOLDERS)}
    assert expected <= names, sorted(expected - names)
    assert not any(f.startswith(DEV_ONLY_FOLDERS) and not f.endswith(".py") for f in names)
