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
