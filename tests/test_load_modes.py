"""Load modes, history, rejects export, atomicity under kill -9 and concurrent loads."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
import pytest

from cim.config import PROJECT_ROOT
from data_samples.generate import write_buildings_gpkg
from loaders.buildings import load_buildings
from tests.conftest import SAMPLE_BUILDINGS, run_cli


def _sample(n):
    return pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=n)


def _write(path, gdf):
    pyogrio.write_dataframe(gdf, path)
    return path


def _current(db):
    return dict(db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))


def test_append_update_replace(fresh_db, tmp_path):
    gdf = _sample(10)
    p = _write(tmp_path / "d.gpkg", gdf)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, mode="append")
    assert r.inserted == 10
    codes = _current(fresh_db)
    # append: a changed feature is not overwritten, it is rejected as already loaded
    changed = gdf.copy()
    changed.loc[0, "建筑名称"] = "改名大厦"
    p = _write(tmp_path / "d.gpkg", changed)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, mode="append")
    assert (r.unchanged, r.rejected, r.rejected_by_reason) == (9, 1, {"already_loaded": 1})
    # update: new version, same code, old version kept as history
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, mode="update")
    assert (r.updated, r.unchanged, r.inserted) == (1, 9, 0)
    assert _current(fresh_db) == codes
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 11
    # replace: features missing from the delivery are retired, never deleted
    p = _write(tmp_path / "d.gpkg", changed.iloc[:7])
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, mode="replace")
    assert (r.retired, r.unchanged) == (3, 7)
    assert len(_current(fresh_db)) == 7
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 11
    # a retired feature that comes back gets its old code again
    p = _write(tmp_path / "d.gpkg", changed)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, p, mode="update")
    assert r.inserted == 3 and _current(fresh_db) == codes


def test_replace_keeps_a_feature_whose_new_geometry_is_rejected(fresh_db, tmp_path):
    """A row of a replace delivery rejected for its geometry still names its feature (by its
    id): the feature's current version stays, as for any other reject — its source key was
    left out of the reject, and the replace retired the building."""
    import shapely

    gdf = _sample(5)
    first = load_buildings(fresh_db.conninfo, fresh_db.profile,
                           _write(tmp_path / "d.gpkg", gdf), mode="update")
    assert first.inserted == 5
    before = _current(fresh_db)
    bad = gdf.copy()
    bad.loc[[1, 2], "geometry"] = [None, shapely.Polygon()]  # no geometry, an empty one
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, _write(tmp_path / "d.gpkg", bad),
                       mode="replace")
    assert (r.rejected, r.retired, r.unchanged) == (2, 0, 3)
    assert _current(fresh_db) == before
    ids = sorted(str(v).strip() for v in gdf.loc[[1, 2], "编号"])
    assert sorted(k.split(":", 1)[1] for (k,) in fresh_db.rows(
        "SELECT source_key FROM load_rejects WHERE batch_id = %s", (r.batch_id,))) == ids


def test_replace_only_touches_its_own_dataset(fresh_db, tmp_path):
    gdf = _sample(6)
    load_buildings(fresh_db.conninfo, fresh_db.profile, _write(tmp_path / "a.gpkg", gdf.iloc[:3]))
    load_buildings(fresh_db.conninfo, fresh_db.profile, _write(tmp_path / "b.gpkg", gdf.iloc[3:]))
    r = load_buildings(fresh_db.conninfo, fresh_db.profile,
                       _write(tmp_path / "a.gpkg", gdf.iloc[:1]), mode="replace")
    assert r.retired == 2
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL") == 4


def test_replace_scopes_datasets_whose_names_hold_like_wildcards(fresh_db, tmp_path):
    """A dataset's keys are found by LIKE 'dataset:%': its name's backslash, _ and % are
    literal. Dataset x\\y_% and dataset xy_% are apart (a backslash escaping y made the
    pattern of the first match the keys of the second)."""
    gdf = _sample(6)
    for name in ("xy_%", "x\\y_%"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, _write(tmp_path / "d.gpkg", gdf),
                       dataset=name)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile,
                       _write(tmp_path / "d.gpkg", gdf.iloc[:2]), mode="replace",
                       dataset="x\\y_%")
    assert r.retired == 4
    current = [k.rsplit(":", 1)[0] for k in _current(fresh_db)]
    assert sorted(current) == sorted(["xy_%"] * 6 + ["x\\y_%"] * 2)


def test_a_dataset_name_with_the_key_separator_is_refused(fresh_db, tmp_path):
    """Source keys are dataset:id: dataset "a" would own the keys of dataset "a:b"."""
    from cim.errors import InputError

    p = _write(tmp_path / "d.gpkg", _sample(3))
    with pytest.raises(InputError, match="without ':'"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, p, dataset="a:b")
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0

def test_cli_history_shows_versions(fresh_db, tmp_path):
    gdf = _sample(3)
    p = _write(tmp_path / "h.gpkg", gdf)
    load_buildings(fresh_db.conninfo, fresh_db.profile, p)
    gdf.loc[1, "地上层数"] = 9
    load_buildings(fresh_db.conninfo, fresh_db.profile, _write(p, gdf))
    code = fresh_db.scalar("SELECT code FROM buildings WHERE source_key = 'h:JZ000002' "
                           "AND valid_to IS NULL")
    out = json.loads(run_cli(["history", code, "--json"], fresh_db.env(), check=True).stdout)
    assert [v["current"] for v in out] == [False, True]
    assert out[1]["floors_above"] == 9 and out[0]["floors_above"] != 9
    assert out[0]["valid_to"] == out[1]["valid_from"]
    text = run_cli(["history", code], fresh_db.env(), check=True).stdout
    assert "retired" in text and "current" in text


def test_rejects_are_queryable_and_exportable_for_reload(fresh_db, tmp_path):
    gdf = _sample(5)
    gdf["地上层数"] = gdf["地上层数"].astype(object)
    gdf.loc[1, "地上层数"] = "十二层"
    gdf.loc[3, "编号"] = gdf.loc[2, "编号"]
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, _write(tmp_path / "r.gpkg", gdf))
    assert r.rejected == 2
    out = run_cli(["rejects", str(r.batch_id)], fresh_db.env(), check=True).stdout
    assert "bad_value" in out and "duplicate_source_id" in out and "2 rejected" in out
    run_cli(["rejects", str(r.batch_id), "--export", str(tmp_path / "rej.csv")],
            fresh_db.env(), check=True)
    with open(tmp_path / "rej.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["cim_reason"] for row in rows] == ["bad_value", "duplicate_source_id"]
    assert rows[0]["地上层数"] == "十二层" and rows[0]["wkt"].startswith("POLYGON")  # as delivered
    run_cli(["rejects", str(r.batch_id), "--export", str(tmp_path / "rej.gpkg")],
            fresh_db.env(), check=True)
    fixed = pyogrio.read_dataframe(tmp_path / "rej.gpkg")
    assert len(fixed) == 2 and str(fixed.crs).endswith("4527")
    # geometries come back where they were delivered: fix the row and reload it
    fixed.loc[0, "地上层数"] = "12"
    fixed = fixed.iloc[:1].drop(columns=["cim_row", "cim_reason", "cim_field", "cim_message"])
    r2 = load_buildings(fresh_db.conninfo, fresh_db.profile, _write(tmp_path / "r.gpkg", fixed),
                        mode="update")
    assert (r2.inserted, r2.rejected) == (1, 0)
    assert fresh_db.scalar("SELECT floors_above FROM buildings WHERE source_key = 'r:JZ000002'") \
        == 12


def _big_file(tmp_path, n):
    path = tmp_path / "big.gpkg"
    write_buildings_gpkg(path, n, seed=7)
    return path


def test_kill_9_leaves_no_partial_rows_and_the_rerun_succeeds(fresh_db, tmp_path):
    path = _big_file(tmp_path, 60_000)
    env = fresh_db.env()
    proc = subprocess.Popen([sys.executable, "-m", "cim.cli", "load", "buildings", str(path)],
                            env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    # wait until the loader's transaction has written (staging created, COPY under way),
    # then kill it without mercy
    for _ in range(600):
        if fresh_db.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                           "'cim-load' AND backend_xid IS NOT NULL "
                           "AND datname = current_database()"):
            break
        if proc.poll() is not None:
            pytest.fail(f"the loader ended before it could be killed: {proc.stderr.read()}")
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("the loader never started writing")
    time.sleep(0.3)  # into the COPY
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    assert fresh_db.scalar("SELECT count(*) FROM code_registry WHERE layer = 'buildings'") == 0
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, mode="update")
    assert r.read == 60_000 and r.loaded + r.rejected == r.read
    statuses = fresh_db.rows("SELECT status FROM load_batches WHERE layer = 'buildings' "
                             "ORDER BY id")
    assert [s[0] for s in statuses] == ["failed", "succeeded"]


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_loads_converter_processes_exit(fresh_db, tmp_path):
    """Only the load's own process killed (kill -9 PID, the OOM killer): its converter
    processes notice and exit instead of waiting for ever with their memory."""
    path = _big_file(tmp_path, 150_000)
    proc = subprocess.Popen([sys.executable, "-m", "cim.cli", "load", "buildings", str(path)],
                            env=fresh_db.env(), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(1500):
            converters = _children(proc.pid)
            if len(converters) >= 1 and fresh_db.scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'cim-load' AND backend_xid IS NOT NULL AND datname = current_database()"):
                break
            if proc.poll() is not None:
                pytest.fail("the loader ended before it could be killed")
            time.sleep(0.02)
        else:
            pytest.fail("the loader never started converting and writing")
        os.kill(proc.pid, signal.SIGKILL)  # the load's process only
        proc.wait(10)
        deadline = time.monotonic() + 30
        while any(map(_alive, converters)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [c for c in converters if _alive(c)], "converters outlived their load"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the process group
        except ProcessLookupError:
            pass
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0


def test_two_concurrent_loads_never_share_a_code(fresh_db, tmp_path):
    gdf = _sample(400)
    a = _write(tmp_path / "a.gpkg", gdf.iloc[:200])
    b = _write(tmp_path / "b.gpkg", gdf.iloc[200:])
    env = fresh_db.env()
    procs = [subprocess.Popen([sys.executable, "-m", "cim.cli", "load", "buildings", str(p),
                               "--json"], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p in (a, b, a)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    codes = fresh_db.rows("SELECT code FROM buildings WHERE valid_to IS NULL")
    assert len(codes) == 400 == len({c[0] for c in codes})
    # serials stay dense per prefix: no code handed out twice, none lost in the race
    for prefix, n, top in fresh_db.rows(
            "SELECT left(code, 10), count(*), max(right(code, 8)::int) FROM code_registry "
            "WHERE layer = 'buildings' GROUP BY 1"):
        assert n == top == fresh_db.scalar(
            "SELECT last_serial FROM code_counters WHERE prefix = %s", (prefix,))
