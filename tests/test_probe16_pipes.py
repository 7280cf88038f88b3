"""Pipe findings of session 16's probe, on survey tables written here (values by
construction):

- ``--mode replace``: a segment without an id delivered the other way round (B3, B2; stored
  as B2-B3) and rejected (its end point's X blank) was retired, though README says a feature
  whose row the delivery holds but that was rejected keeps its current version;
- a 管径 written with its unit (0.3m, 300毫米, 1.2m×0.8m) loaded with no size at all (text
  only), silently;
- ``cim load pipes .`` was refused as the dataset '' naming a table."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.pipes.dictionaries import parse_size
from loaders.pipes.load import load_pipes_files
from tests.test_pipes import E0, N0

PTS = "给水管线点.csv"
SEGS = "给水管线段.csv"


def _write(folder: Path, points: list[str], segments: list[str]) -> None:
    (folder / PTS).write_text("物探点号,特征,X,Y,地面高程\n" + "\n".join(points) + "\n",
                              encoding="utf-8")
    (folder / SEGS).write_text("起始点号,终止点号,起点埋深,终点埋深,材质,管径\n"
                               + "\n".join(segments) + "\n", encoding="utf-8")


def _points(x3: str = f"{N0 + 40:.2f}") -> list[str]:
    return [f"B1,直线点,{N0:.2f},{E0:.2f},36.5", f"B2,直线点,{N0 + 20:.2f},{E0:.2f},36.4",
            f"B3,直线点,{x3},{E0:.2f},36.3"]


def test_replace_keeps_a_reversed_segment_whose_row_was_rejected(fresh_db, tmp_path):
    _write(tmp_path, _points(), ["B1,B2,1.2,1.2,PE,DN300", "B2,B3,1.2,1.2,PE,DN300"])
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path], dataset="n")
    assert r.loaded == 5
    code = fresh_db.scalar("SELECT code FROM pipe_segments WHERE source_key LIKE '%%:B2-B3'")
    # B2-B3 surveyed from its other end, and B3's X left blank: both rows rejected
    _write(tmp_path, _points(""), ["B1,B2,1.2,1.2,PE,DN300", "B3,B2,1.2,1.2,PE,DN300"])
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path], dataset="n",
                              mode="replace")
    assert r.rejected == 2 and r.retired == 0, r.text()
    current = {k for k, in fresh_db.rows("SELECT source_key FROM pipe_segments "
                                         "WHERE valid_to IS NULL")}
    assert current == {"n:JS:B1-B2", "n:JS:B2-B3"}
    assert fresh_db.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL AND "
                           "source_key LIKE '%%:B2-B3'") == code
    # a segment truly gone from the delivery is still retired
    _write(tmp_path, _points(), ["B1,B2,1.2,1.2,PE,DN300"])
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path], dataset="n",
                              mode="replace")
    assert r.retired >= 1
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments WHERE valid_to IS NULL AND "
                           "source_key LIKE '%%:B2-B3'") == 0


@pytest.mark.parametrize("text,size", [
    ("0.3m", (300, None, None)), ("0.3 m", (300, None, None)), ("0.3米", (300, None, None)),
    ("300毫米", (300, None, None)), ("30cm", (300, None, None)), ("DN300mm", (300, None, None)),
    ("1.2m×0.8m", (None, 1200, 800)), ("300mm×200mm", (None, 300, 200)),
    ("4孔", (None, None, None)), ("Φ219×6", (219, None, None)),
    # the unit written once, after the last number (review 16): the unit of them all
    ("1.2×0.8m", (None, 1200, 800)), ("2.0×1.5米", (None, 2000, 1500)),
    ("3e2", (300, None, None)),
])
def test_a_size_with_its_unit_is_read_in_millimetres(text, size):
    assert parse_size(text) == (*size, text)


def test_a_size_with_its_unit_loads_its_millimetres(fresh_db, tmp_path):
    _write(tmp_path, _points(), ["B1,B2,1.2,1.2,PE,0.3m", "B2,B3,1.2,1.2,PE,1.2m×0.8m"])
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path], dataset="u")
    assert r.loaded == 5
    got = {k: (d, w, h, t) for k, d, w, h, t in fresh_db.rows(
        "SELECT source_key, diameter_mm, width_mm, height_mm, size_text FROM pipe_segments")}
    assert got == {"u:JS:B1-B2": (300, None, None, "0.3m"),
                   "u:JS:B2-B3": (None, 1200, 800, "1.2m×0.8m")}


def test_the_current_folder_is_the_dataset_of_its_name(fresh_db, tmp_path):
    """`cim load pipes .` run inside the delivery's folder (Path('.').name is '')."""
    import subprocess
    import sys

    folder = tmp_path / "热力一期"
    folder.mkdir()
    _write(folder, _points(), ["B1,B2,1.2,1.2,PE,DN300"])
    env = {**fresh_db.env(), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    p = subprocess.run([sys.executable, "-m", "cim", "load", "pipes", "."], cwd=folder,
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments WHERE source_key LIKE "
                           "'热力一期:%%'") == 1


def test_a_size_of_metres_written_for_millimetres_is_refused():
    """300m (a slip for 300mm) was a pipe 300 m across: refused, as 0.3 without a unit is."""
    from cim.numbers import ValueProblem

    with pytest.raises(ValueProblem, match="millimetres written with m"):
        parse_size("300m")
    with pytest.raises(ValueProblem, match="20000"):
        parse_size("50000")


def test_a_linked_folder_keeps_the_name_it_is_given_by(tmp_path):
    """A stable link to this month's delivery (热力 → 2026-05_热力): its dataset is the
    link's name, as before — resolving it gave every reload new keys (review 16)."""
    from loaders.field_names import delivery_dataset

    real = tmp_path / "2026-05_热力"
    real.mkdir()
    _write(real, _points(), ["B1,B2,1.2,1.2,PE,DN300"])
    (tmp_path / "热力").symlink_to(real, target_is_directory=True)
    assert delivery_dataset([tmp_path / "热力"], None) == "热力"
