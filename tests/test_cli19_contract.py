"""The command line as scripts and cron jobs use it (probe of session 19): a city file saved in
GBK (Notepad or WPS on Chinese Windows) was an internal error; a load into a database one
migration behind went ahead (rows of the old schema's shape: before 0017, a second current
feature beside each old one); out-of-range options were internal errors."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from cim.db.migrate import alembic_config, downgrade, upgrade
from cim.db.revision import head_revision
from tests.conftest import SAMPLE_BUILDINGS, run_cli, scratch_db


def test_the_cheap_head_is_alembics_head():
    assert head_revision() == ScriptDirectory.from_config(
        alembic_config("postgresql://x/y", 0)).get_current_head()


def test_city_files_in_gbk_are_named_not_an_internal_error(db, tmp_path):
    gbk = tmp_path / "profile_gbk.yaml"
    gbk.write_bytes(db.profile.path.read_text(encoding="utf-8").encode("gbk"))
    env = db.env()
    p = run_cli(["--profile", str(gbk), "profile", "show"], env)
    assert p.returncode == 2, p.stderr
    assert f"{gbk}: the city profile is not UTF-8 text (it reads as GBK)" in p.stderr
    mapping = tmp_path / "映射.yaml"
    mapping.write_bytes("source_id: 编号\n".encode("gbk"))
    p = run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--mapping", str(mapping)], env)
    assert p.returncode == 2 and "mapping file is not UTF-8 text" in p.stderr, p.stderr
    assert "internal error" not in p.stderr
    # the place counted from the file's start, not from the reader's last chunk
    big = tmp_path / "big_gbk.yaml"
    big.write_bytes(b"# x\n" * 30000 + "source_id: 编号\n".encode("gbk"))
    p = run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--mapping", str(big)], env)
    assert p.returncode == 2 and "line 30001 (byte 120011)" in p.stderr, p.stderr


def test_out_of_range_options_are_bad_options(db):
    env = db.env()
    for args in (["checks", "--limit", "-1"], ["checks", "--limit", "0"],
                 ["iot", "partitions", "--ahead", "100000"]):
        p = run_cli(args, env)
        assert p.returncode == 2 and "is not in the range" in p.stderr, (args, p.stderr)


def test_a_load_into_a_database_behind_the_platform_is_refused(jining_profile):
    with scratch_db("behind19", jining_profile) as d:
        downgrade(d.url, d.profile.srid, "0016_cases_opened_order")
        p = run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--quiet"], d.env())
        assert p.returncode == 4, p.stderr
        assert ("the database is at revision 0016_cases_opened_order, the platform needs "
                f"{head_revision()}: run `cim db upgrade`") in p.stderr
        assert d.scalar("SELECT count(*) FROM buildings") == 0
        upgrade(d.url, d.profile.srid)
        p = run_cli(["load", "buildings", str(SAMPLE_BUILDINGS), "--quiet"], d.env())
        assert p.returncode == 0, p.stderr


def test_ctrl_c_after_a_load_committed_says_so_and_exits_0(jining_profile):
    """Ctrl-C while the report printed — the batch already committed — said "aborted", exit
    130: a script took the finished load for a failed one. The child's stdout is a pipe filled
    beforehand, so its report's write blocks after the COMMIT until the interrupt."""
    import fcntl
    import os
    import signal
    import subprocess
    import sys
    import time

    from cim.config import PROJECT_ROOT

    with scratch_db("ctrlc19", jining_profile) as d:
        r, w = os.pipe()
        fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: one page
        os.set_blocking(w, False)
        try:
            while True:
                os.write(w, b"x" * 512)
        except BlockingIOError:
            pass
        os.set_blocking(w, True)
        proc = subprocess.Popen([sys.executable, "-m", "cim", "load", "buildings",
                                 str(SAMPLE_BUILDINGS)], env=d.env(), cwd=PROJECT_ROOT,
                                stdout=w, stderr=subprocess.PIPE, text=True)
        os.close(w)
        try:
            deadline = time.monotonic() + 300
            # (the profile's districts and grid cells were loaded before: the buildings')
            while d.scalar("SELECT count(*) FROM load_batches WHERE layer = 'buildings' "
                           "AND status = 'succeeded'") == 0:
                assert proc.poll() is None and time.monotonic() < deadline, "no commit"
                time.sleep(0.2)
            time.sleep(1.0)  # (the report's write is blocked: nothing drains the pipe)
            proc.send_signal(signal.SIGINT)
            os.set_blocking(r, False)
            while proc.poll() is None and time.monotonic() < deadline:  # drained to its end
                try:
                    os.read(r, 1 << 16)
                except BlockingIOError:
                    time.sleep(0.05)
            err = proc.stderr.read()
        finally:
            os.close(r)
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        assert "interrupted; committed before it: load batch" in err and "succeeded" in err
        assert "aborted" not in err and "Traceback" not in err
        assert d.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL") > 0


def test_a_radius_without_its_point_is_refused(db):
    """It was set aside: the whole city's counts answered a circle's question, exit 0."""
    p = run_cli(["query", "aoi", "--radius", "100", "--layers", "buildings", "--json"],
                db.env())
    assert p.returncode == 3 and "(--radius) goes with a point (--point" in p.stderr, p.stderr
    assert p.stdout == ""


def test_a_broken_profile_names_its_file_and_key(db, tmp_path):
    import yaml

    raw = yaml.safe_load(db.profile.path.read_text(encoding="utf-8"))
    cases = {"crs": {**raw, "storage_crs": "EPSG:99999"}, "city": {**raw, "city": "济宁市"},
             "list": ["a", "b"]}
    for name, data in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        p = run_cli(["--profile", str(path), "profile", "show"], db.env())
        assert p.returncode == 2 and f"error: {path}" in p.stderr, (name, p.stderr)
        assert {"crs": "field 'storage_crs': storage CRS: unknown coordinate reference system",
                "city": "field 'city': a city profile maps city:",
                "list": "a city profile maps city:"}[name] in p.stderr, p.stderr


def test_files_to_write_into_a_missing_folder_are_named_before_any_work(db, tmp_path):
    """`case report --out` found the folder missing after computing the report, and
    `rejects --export` into one was an internal error (FileNotFoundError)."""
    missing = tmp_path / "nowhere"
    batch = str(db.sample_report.batch_id)
    for args, field in ((["case", "report", "--from", "2026-01-01", "--to", "2026-02-01",
                          "--out", str(missing / "r.html")], "--out"),
                        (["rejects", batch, "--export", str(missing / "r.csv")], "--export")):
        p = run_cli(args, db.env())
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 3 and len(lines) == 1, (args, p.stderr)
        assert f"field '{field}'" in lines[0] and f"no folder {missing}" in lines[0], lines


def test_a_database_of_a_newer_release_is_named_so_and_nothing_is_written(jining_profile):
    """A database a newer release migrated (its revision past this platform's newest): every
    command was told to run `cim db upgrade`, which then failed "Can't locate revision" and
    dropped the planners' views; the commands that write without a load (risk, iot gaps,
    case, ops …) wrote into it (probe of session 19)."""
    with scratch_db("newer19", jining_profile) as d:
        views = d.scalar("SELECT count(*) FROM pg_views WHERE schemaname = 'cim_map'")
        assert views > 0
        d.rows("UPDATE alembic_version SET version_num = '9999_future_release' RETURNING 1")
        env = d.env()
        for args in (["layers"], ["risk", "assess", "--json"], ["iot", "gaps"],
                     ["ops", "user", "list"], ["load", "buildings", str(SAMPLE_BUILDINGS)],
                     ["db", "upgrade"], ["db", "downgrade", "-1"]):
            p = run_cli(args, env)
            assert p.returncode == 4, (args, p.stderr)
            assert "newer than this platform's newest" in p.stderr, (args, p.stderr)
        assert d.scalar("SELECT count(*) FROM pg_views WHERE schemaname = 'cim_map'") == views
        assert d.scalar("SELECT count(*) FROM risk_assessments") == 0


def test_a_mistyped_revision_keeps_the_planners_views(jining_profile):
    with scratch_db("typo19", jining_profile) as d:
        views = d.scalar("SELECT count(*) FROM pg_views WHERE schemaname = 'cim_map'")
        for args in (["db", "upgrade", "0001_foundation"], ["db", "downgrade", "head-40"]):
            p = run_cli(args, d.env())
            assert p.returncode == 3, (args, p.stderr)
            assert d.scalar("SELECT count(*) FROM pg_views WHERE schemaname = 'cim_map'") \
                == views, args


def test_a_round_trip_below_0015_keeps_the_risk_points_change_counter(jining_profile):
    """The counter behind the risk tiles' version went back to 0 after a downgrade below
    0015 and an upgrade: a version could repeat one from before (probe of session 19)."""
    with scratch_db("ctr19", jining_profile) as d:
        d.rows("UPDATE layer_changes SET changes = 7 WHERE layer = 'risk_points' RETURNING 1")
        downgrade(d.url, d.profile.srid, "0014_trimmed_source_keys")
        upgrade(d.url, d.profile.srid)
        assert d.scalar("SELECT changes FROM layer_changes WHERE layer = 'risk_points'") == 7


def test_a_failed_downgrade_creates_no_role(jining_profile):
    """The views made again after a failed migration: the whole reader set-up ran, creating
    the login roles the environment named (review of session 19)."""
    import uuid

    with scratch_db("roles19", jining_profile) as d:
        names = [f"cim_t19_{uuid.uuid4().hex[:6]}", f"cim_t19p_{uuid.uuid4().hex[:6]}"]
        env = {**d.env(), "CIM_READER_ROLE": names[0], "CIM_PLANNER_ROLE": names[1]}
        p = run_cli(["db", "downgrade", "head-40"], env)
        assert p.returncode == 3, p.stderr
        assert d.scalar("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (names,)) == 0
