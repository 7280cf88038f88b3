"""A city's copy of a CSV dictionary must keep the platform's key column: a copy whose header
was translated (编码,名称 for code,name) made every reader of it fail on a missing column —
``cim load buildings`` with such a building_use.csv ended in "internal error: KeyError:
'code'". Now the load is refused before it starts, naming the file, the missing column and
the header to keep; a copy without the optional columns (aliases, English names) still loads,
and so does one saved by Excel (UTF-8 with a BOM, or GBK). A column only some readers need
(pipe_classes' letters) is a configuration error naming the file and the column when one asks
for it (cim.dictionary_csv.DictionaryRow), never a KeyError; a row running past the header (an
unquoted comma) is refused naming the row."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest

from cim.profile import DICTIONARY_DIR, load_profile
from tests.conftest import run_cli

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples" / "jining"


def _profile(tmp_path: Path, csv_bytes: bytes) -> Path:
    f = tmp_path / "城市用途.csv"
    f.write_bytes(csv_bytes)
    text = (SAMPLE / "profile.yaml").read_text(encoding="utf-8")
    text = text.replace("boundaries: boundaries.gpkg", f"boundaries: {SAMPLE / 'boundaries.gpkg'}")
    text = text.replace("grid: grid_cells.gpkg", f"grid: {SAMPLE / 'grid_cells.gpkg'}")
    text = text.replace("dictionaries: {}", f"dictionaries: {{building_use: '{f}'}}")
    p = tmp_path / "profile.yaml"
    p.write_text(text, encoding="utf-8")
    return p


TRANSLATED = "编码,名称,英文名,别名,住宅\n01,住宅,residential,,是\n99,其他,other,,\n"


def test_translated_header_refused_naming_the_file(tmp_path, fresh_db):
    prof = _profile(tmp_path, TRANSLATED.encode("utf-8"))
    shp = SAMPLE / "buildings" / "buildings_survey.shp"
    p = run_cli(["--profile", str(prof), "load", "buildings", str(shp)], fresh_db.env())
    assert p.returncode != 0
    err = p.stderr
    assert "internal error" not in err, err
    assert str(tmp_path / "城市用途.csv") in err, err
    assert "no column code:" in err, err
    platform = (DICTIONARY_DIR / "building_use.csv").read_text(encoding="utf-8").splitlines()[0]
    assert platform in err, err  # the header to keep, as the platform's file has it


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_copy_with_the_key_and_name_columns_loads(tmp_path, fresh_db, encoding):
    """Only code and name kept (no aliases, English names, residential), saved by Excel: the
    sample's buildings load, their uses looked up in the city's copy."""
    rows = (DICTIONARY_DIR / "building_use.csv").read_text(encoding="utf-8").splitlines()
    head = rows[0].split(",")
    ci, ni = head.index("code"), head.index("name")
    kept = ["code,name"] + [f"{r.split(',')[ci]},{r.split(',')[ni]}" for r in rows[1:] if r]
    prof = _profile(tmp_path, ("\n".join(kept) + "\n").encode(encoding))
    assert load_profile(prof).dictionary("building_use")[0].keys() == {"code", "name"}
    shp = SAMPLE / "buildings" / "buildings_survey.shp"
    p = run_cli(["--profile", str(prof), "load", "buildings", str(shp), "--json"],
                fresh_db.env())
    assert p.returncode == 0, p.stdout + p.stderr
    assert f'"read": {len(pyogrio.read_dataframe(shp))}' in p.stdout, p.stdout


def test_a_column_a_reader_needs_is_named_when_asked(tmp_path, fresh_db):
    """pipe_classes.csv without its letters column: the pipe load stops with a configuration
    error naming the file and the column (exit 2), nothing loaded."""
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(
        (DICTIONARY_DIR / "pipe_classes.csv").read_text(encoding="utf-8"))))
    keep = [c for c in rows[0] if c != "letters"]
    f = tmp_path / "管线大类.csv"
    out = io.StringIO()
    w = csv.DictWriter(out, keep, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    f.write_text(out.getvalue(), encoding="utf-8")
    text = (SAMPLE / "profile.yaml").read_text(encoding="utf-8")
    text = text.replace("boundaries: boundaries.gpkg", f"boundaries: {SAMPLE / 'boundaries.gpkg'}")
    text = text.replace("grid: grid_cells.gpkg", f"grid: {SAMPLE / 'grid_cells.gpkg'}")
    text = text.replace("dictionaries: {}", f"dictionaries: {{pipe_classes: '{f}'}}")
    prof = tmp_path / "profile.yaml"
    prof.write_text(text, encoding="utf-8")
    p = run_cli(["--profile", str(prof), "load", "pipes", str(SAMPLE / "pipes")], fresh_db.env())
    assert p.returncode == 2, p.stdout + p.stderr
    assert "internal error" not in p.stderr and str(f) in p.stderr, p.stderr
    assert "no column 'letters'" in p.stderr, p.stderr
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments") == 0


def test_a_copy_without_a_column_its_readers_do_without_is_taken(tmp_path):
    """valve_states.csv's readers take its name by row.get: a copy of state and aliases only
    passes the key check (the network reads it)."""
    from cim.dictionary_csv import check_csv_copy, read_csv_dictionary

    f = tmp_path / "阀门状态.csv"
    f.write_text("state,aliases\nopen,开|开启\nclosed,关|关闭\n", encoding="utf-8")
    check_csv_copy("valve_states", f)
    assert read_csv_dictionary(f)[1].get("name", "-") == "-"


def test_a_row_past_the_header_is_refused_naming_it(tmp_path):
    from cim.errors import ConfigError
    from cim.profile import read_csv_dictionary

    f = tmp_path / "用途.csv"
    f.write_text("code,name\n01,住宅\n02,商业,办公\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        read_csv_dictionary(f)
    assert e.value.row == 3 and e.value.path == str(f), e.value


def test_a_misspelt_dictionary_name_is_refused_naming_it(tmp_path):
    """``pipe_clearance`` for ``pipe_clearances``: the city's file was ignored and the
    platform's used in its place, without a word (a vertical clearance of 0.40 m checked where
    the city had written 0.60)."""
    from cim.errors import ConfigError

    p = _profile(tmp_path, (DICTIONARY_DIR / "building_use.csv").read_bytes())
    text = p.read_text(encoding="utf-8").replace(
        "dictionaries: {building_use:", f"dictionaries: {{pipe_clearance: '{tmp_path}/x.csv', "
        "building_use:")
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_profile(p)
    assert e.value.field == "dictionaries.pipe_clearance" and e.value.path == str(p)
    assert "pipe_clearances?" in e.value.message  # the name it could be
    # a name of the city's own (a styles file's categories_from dictionary) is no misspelling
    p.write_text(text.replace("pipe_clearance:", "my_colours:"), encoding="utf-8")
    assert load_profile(p).dictionaries["my_colours"] == tmp_path / "x.csv"


def test_a_row_with_a_field_left_out_is_refused_naming_it(tmp_path):
    """11,养老,养老院|敬老院,yes without its name_en: read shifted, the aliases were its English
    name and `yes` its aliases, the residential flag lost — without a word."""
    from cim.errors import ConfigError
    from cim.profile import read_csv_dictionary

    f = tmp_path / "building_use.csv"
    text = (DICTIONARY_DIR / "building_use.csv").read_text(encoding="utf-8").rstrip()
    f.write_text(text + "\n11,养老,养老院|敬老院,yes\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        read_csv_dictionary(f)
    assert (e.value.path, e.value.row) == (str(f), len(text.splitlines()) + 1)
    assert "field left out" in e.value.message


@pytest.mark.parametrize("row, field, other", [
    # the code 05 repeated: every 05 was the first row's class
    ("05,仓库用房,warehouse2,,", "code", "row 6 (code 05)"),
    # an alias of one row that is another's name: 商业 read as the first row it named
    ("12,测试用房,test_use,商业,", "aliases", "row 3 (code 02)"),
])
def test_a_key_naming_two_rows_is_refused_naming_both(tmp_path, fresh_db, row, field, other):
    """A city's building_use.csv repeating a code, or giving a row an alias that is another
    row's name: the load is refused naming the file, the row, the column and the row it
    clashes with; nothing is loaded (every such value was read as the first row, silently)."""
    text = (DICTIONARY_DIR / "building_use.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    head = lines[0].split(",")
    # premise, by construction from the platform's file: row 3 is 02 商业, row 6 is 05
    assert lines[2].split(",")[head.index("name")] == "商业" and lines[5].startswith("05,")
    extra = row.split(",") + [""] * (len(head) - len(row.split(",")))
    prof = _profile(tmp_path, (text.rstrip("\n") + "\n" + ",".join(extra) + "\n").encode())
    added = len(lines) + 1  # its line in the city's file
    shp = SAMPLE / "buildings" / "buildings_survey.shp"
    p = run_cli(["--profile", str(prof), "load", "buildings", str(shp)], fresh_db.env())
    assert p.returncode == 2, p.stdout + p.stderr
    err = p.stderr
    assert "internal error" not in err, err
    assert str(tmp_path / "城市用途.csv") in err and f"row {added}" in err, err
    assert field in err and other in err, err
    import psycopg
    with psycopg.connect(fresh_db.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM buildings").fetchone()[0] == 0


def test_an_alias_shared_with_another_rows_english_name_still_loads(tmp_path):
    """A city's copy of an older land_use.csv: 09's alias ``commercial`` is 0901's English
    name. Refused, every planning load of that city failed after the upgrade; two rows
    sharing an alias or English name keep the first's, as before — only a code or a name
    naming two rows (or an alias that is another's code or name) is refused."""
    from cim.dictionary_csv import index_rows, read_csv_dictionary

    text = (DICTIONARY_DIR / "land_use.csv").read_text(encoding="utf-8")
    old = text.replace("B|商业服务业设施用地|商业服务\n", "B|商业服务业设施用地|商业服务|commercial\n")
    assert old != text  # premise: the older row, by construction
    f = tmp_path / "land_use.csv"
    f.write_text(old, encoding="utf-8")
    rows = read_csv_dictionary(f)
    by = index_rows(rows, ("code", "name", "name_zh", "type_code"), ("aliases", "gb50137"),
                    secondary=("name_en",))
    assert by["commercial"]["code"] == "09"  # the first row's, as it was read before
    assert by["0901"]["code"] == "0901"
