"""Every malformed delivery of tests/data/bad/ through `cim load buildings` on a real PostGIS.

The corpus is regenerated into a temporary directory by tests/data/make_bad_inputs.py (so the
generator and the committed corpus cannot drift apart unnoticed) and each case of its manifest
is one test: an error case must fail with a one-line message that names the file (and the row
and field where there is one) and leave the database as it was; a loading case must account for
every feature (read = loaded + rejected) with exactly the expected rejects and flags.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pyogrio
import pytest
import shapely

from cim.db.engine import drop_database
from cim.errors import InputError
from loaders.buildings import load_buildings
from tests.conftest import SAMPLE_BUILDINGS, make_db, run_cli, server_url

DATA = Path(__file__).resolve().parent / "data"
COMMITTED = DATA / "bad"


def _generator():
    spec = importlib.util.spec_from_file_location("make_bad_inputs", DATA / "make_bad_inputs.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


GEN = _generator()
CASES = GEN.cases()
SAMPLE = {r["编号"]: r.geometry for _, r in
          pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=60).iterrows()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bad") / "bad"
    GEN.generate(out)
    return out


@pytest.fixture(scope="module")
def bad_db(jining_profile, tmp_path_factory):
    """A database of its own with a few buildings already loaded (so 'unchanged' means it)."""
    d = make_db("bad", jining_profile)
    base = tmp_path_factory.mktemp("baseline") / "baseline.geojson"
    gdf = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", skip_features=100,
                                 max_features=6)
    pyogrio.write_dataframe(gdf, base, driver="GeoJSON")
    r = load_buildings(d.conninfo, jining_profile, base)
    assert r.loaded == 6
    yield d
    drop_database(server_url(), d.name)


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_the_corpus_is_big_enough_small_enough_and_covers_both_outcomes(corpus):
    assert len(CASES) >= 32
    assert {c["outcome"] for c in CASES} == {"error", "loads"}
    size = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    assert size < 2 * 1024 * 1024
    for c in CASES:
        assert (corpus / c["file"]).exists() != bool(c.get("absent")), c["name"]
    stems = [Path(c["file"]).stem for c in CASES]
    assert len(stems) == len(set(stems))


def test_the_committed_corpus_matches_the_generator(corpus):
    assert COMMITTED.is_dir(), "run: python tests/data/make_bad_inputs.py"
    committed = json.loads((COMMITTED / "MANIFEST.json").read_text(encoding="utf-8"))
    generated = json.loads((corpus / "MANIFEST.json").read_text(encoding="utf-8"))
    assert [c["file"] for c in committed["cases"]] == [c["file"] for c in generated["cases"]]
    assert committed == generated, "the committed corpus is stale: regenerate it"
    assert _files(COMMITTED) == _files(corpus)


def _state(db) -> tuple:
    return db.rows("SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL), "
                   # (a first load leaves row_hash NULL: concat_ws skips it, keeps the rest)
                   "coalesce(sum(hashtext(concat_ws('|', code, source_key, row_hash, "
                   "valid_to))), 0), "
                   "(SELECT count(*) FROM load_rejects), (SELECT count(*) FROM code_registry) "
                   "FROM buildings")[0]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(case, corpus, bad_db):
    path = corpus / case["file"]
    before = _state(bad_db)
    last_batch = bad_db.scalar("SELECT coalesce(max(id), 0) FROM load_batches")
    proc = run_cli(["load", "buildings", str(path), "--json"], bad_db.env())
    assert "Traceback" not in proc.stderr, proc.stderr
    new_batches = bad_db.rows("SELECT id, status, error FROM load_batches WHERE id > %s",
                              (last_batch,))
    if case["outcome"] == "error":
        _check_error(case, path, proc, bad_db, before, new_batches)
    else:
        _check_load(case, path, proc, bad_db, before, new_batches)


def _check_error(case, path, proc, db, before, new_batches):
    assert proc.returncode == case["exit_code"] != 0, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    err = lines[0]
    assert path.name in err, f"the message does not name the file: {err}"
    assert case["message"] in err
    if case["row"] is not None:
        assert f"row {case['row']}" in err
    if case["field"] is not None:
        assert f"field {case['field']!r}" in err
    assert _state(db) == before, "an error case changed the layer"
    for _id, status, error in new_batches:
        assert status == "failed" and case["message"] in error


def _check_load(case, path, proc, db, before, new_batches):
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rep = json.loads(proc.stdout)
    assert rep["read"] == rep["loaded"] + rep["rejected"]
    assert (rep["read"], rep["loaded"], rep["rejected"]) == \
        (case["read"], case["loaded"], case["rejected"])
    assert rep["rejected_by_reason"] == case["rejected_by_reason"]
    assert rep["flagged_by_reason"] == case["flagged_by_reason"]
    bid = rep["batch_id"]
    assert [b[:2] for b in new_batches] == [(bid, "succeeded")]
    assert db.rows("SELECT read, loaded, rejected FROM load_batches WHERE id = %s", (bid,)) == \
        [(case["read"], case["loaded"], case["rejected"])]
    # every loaded feature is new (its dataset is the file name) and nothing else changed
    assert db.scalar("SELECT count(*) FROM buildings WHERE batch_id = %s AND valid_to IS NULL",
                     (bid,)) == case["loaded"]
    after = _state(db)
    assert after[:2] == (before[0] + case["loaded"], before[1] + case["loaded"])
    rejects = {r[0]: r[1:] for r in db.rows(
        "SELECT row_number, reason, field, message FROM load_rejects WHERE batch_id = %s",
        (bid,))}
    by_reason: dict[str, int] = {}
    for reason, *_ in rejects.values():
        by_reason[reason] = by_reason.get(reason, 0) + 1
    assert by_reason == case["rejected_by_reason"]
    for exp in case["rejects"]:
        reason, field, message = rejects[exp["row"]]
        assert reason == exp["reason"]
        if "field" in exp:
            assert field == exp["field"]
        if "message" in exp:
            assert exp["message"] in message
    stem = path.stem
    stored = {r[0]: r[1:] for r in db.rows(
        "SELECT source_key, name, attrs, flags, ST_AsBinary(geom), ST_NDims(geom) "
        "FROM buildings WHERE batch_id = %s", (bid,))}
    if "source_crs" in case:
        assert rep["source_crs"] == case["source_crs"]
    if "encoding" in case:
        assert rep["encoding"] == case["encoding"]
    for frag in case.get("notes", []):
        assert any(frag in n for n in rep["notes"]), (frag, rep["notes"])
    for sid, name in case.get("names", {}).items():
        assert stored[f"{stem}:{sid}"][0] == name
    if "keys" in case:
        assert set(stored) == set(case["keys"])
    if "key_prefix" in case:
        assert stored and all(k.startswith(case["key_prefix"]) for k in stored)
    for k in case.get("attrs_keys", []):
        assert all(k in s[1] for s in stored.values()), k
    for k in case.get("attrs_absent", []):
        assert all(k not in s[1] for s in stored.values()), k
    for sid, flags in case.get("flags", {}).items():
        assert stored[f"{stem}:{sid}"][2] == flags
    for sid in case.get("same_place") or []:
        got = shapely.from_wkb(bytes(stored[f"{stem}:{sid}"][3]))
        assert shapely.hausdorff_distance(got, SAMPLE[sid]) < 0.001, sid
    if case.get("stored_2d"):
        assert {s[4] for s in stored.values()} == {2}


# -- the XML check runs before GDAL; GDAL errors that escape still end as one line ------------
@pytest.mark.parametrize("name", ["gml_xxe", "gml_billion_laughs", "kml_xxe", "xlsx_xxe"])
def test_xml_with_a_doctype_never_reaches_gdal(name, corpus, monkeypatch):
    from loaders.sources import read

    case = next(c for c in CASES if c["name"] == name)

    def gdal_must_not_run(*a, **k):
        raise AssertionError("GDAL was asked to parse an XML with a DOCTYPE")

    monkeypatch.setattr(read.pyogrio, "list_layers", gdal_must_not_run)
    monkeypatch.setattr(read.pyogrio, "read_info", gdal_must_not_run)
    with pytest.raises(InputError, match="refused") as exc:
        read.open_source(corpus / case["file"])
    assert case["message"] in str(exc.value)


@pytest.mark.parametrize("xml, refused", [
    (b'<?xml version="1.0"?>\n<!-- note --><?pi x?>\n<!DOCTYPE a [<!ENTITY x "y">]><a/>', True),
    (b'\xef\xbb\xbf  <!DOCTYPE a SYSTEM "http://h/a.dtd"><a/>', True),
    ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a><a/>'.encode("utf-16"), True),
    (b"<!--" + b"x" * (1 << 20) + b"--><!DOCTYPE a><a/>", True),  # hidden behind a comment
    (b'<?xml version="1.0"?><!-- <!DOCTYPE in a comment --><a>&lt;!DOCTYPE</a>', False),
    (b'<?xml version="1.0"?>\n<gml:FeatureCollection xmlns:gml="g"/>', False),
])
def test_xml_prolog_check(xml, refused, tmp_path):
    from loaders.sources.precheck import check_xml_prolog

    if refused:
        with pytest.raises(InputError, match="refused"):
            check_xml_prolog(xml, tmp_path / "x.gml")
    else:
        check_xml_prolog(xml, tmp_path / "x.gml")


def test_cli_turns_an_escaped_gdal_read_error_into_one_line_and_logs_bugs(monkeypatch, capsys,
                                                                         tmp_path):
    import pyogrio.errors

    from cim import cli

    monkeypatch.setenv("CIM_LOG_DIR", str(tmp_path / "logs"))

    def fail(exc):
        def run(*a, **k):
            raise exc
        return run

    monkeypatch.setattr(cli.cli, "main", fail(pyogrio.errors.DataSourceError(
        "'x.gpkg' not recognized as being in a supported file format")))
    with pytest.raises(SystemExit) as ex:
        cli.main()
    assert ex.value.code == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "x.gpkg" in err and len(err.strip().splitlines()) == 1
    # a bug: one line pointing at a log that keeps the traceback, exit 1 (not an input error)
    monkeypatch.setattr(cli.cli, "main", fail(KeyError("a bug")))
    with pytest.raises(SystemExit) as ex:
        cli.main()
    assert ex.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("internal error: KeyError: 'a bug'")
    log = Path(err.rsplit("(details: ", 1)[1].rstrip(")"))
    assert log.parent == tmp_path / "logs"
    assert "Traceback" in log.read_text() and "KeyError: 'a bug'" in log.read_text()
