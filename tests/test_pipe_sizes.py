"""A 管径 as surveyors write it: a diameter (300, DN300, Φ300, ∅300, 1,200), a section's width ×
height (400×300), a steel pipe's outer diameter × its wall (Φ219×6: the diameter is 219, not a
219 × 6 box). Expected values by construction."""

from __future__ import annotations

import pytest

from loaders.pipes.dictionaries import parse_size
from loaders.pipes.load import load_pipes_files
from tests.test_pipe_rejects_and_keys import PTS, SEGS, _write
from tests.test_pipes import E0, N0


@pytest.mark.parametrize("typed,diameter,width,height", [
    ("300", 300, None, None), ("DN300", 300, None, None), ("Φ300", 300, None, None),
    ("∅300", 300, None, None), ("ＤＮ３００", 300, None, None), ("de110", 110, None, None),
    ("1,200", 1200, None, None), ("DN1,000", 1000, None, None),
    ("400×300", None, 400, 300), ("400X300", None, 400, 300), ("2,000×1,500", None, 2000, 1500),
    ("Φ219×6", 219, None, None), ("D219×6", 219, None, None), ("φ108 × 4.5", 108, None, None),
    ("4孔", None, None, None), ("1,5", None, None, None),
    # two sizes with a comma, not one grouped number: no diameter of a kilometre
    ("1200,800", None, None, None), ("100,150", None, None, None)])
def test_a_size_as_typed(typed, diameter, width, height):
    assert parse_size(typed) == (diameter, width, height, typed)


def test_a_steel_pipes_size_loads_as_its_diameter(fresh_db, tmp_path):
    _write(tmp_path / SEGS, [["起点号", "终点号", "起点埋深(m)", "终点埋深(m)", "材质", "管径(mm)"],
                             ["JS1", "JS2", "1.5", "1.5", "钢", "Φ219×6"]])
    _write(tmp_path / PTS, [["点号", "特征", "X坐标", "Y坐标", "地面高程(m)"],
                            ["JS1", "直线点", f"{N0:.3f}", f"{E0:.3f}", "36.3"],
                            ["JS2", "直线点", f"{N0 + 20:.3f}", f"{E0:.3f}", "36.3"]])
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path])
    assert r.loaded == 3, r.text()
    assert fresh_db.rows("SELECT diameter_mm, width_mm, height_mm, size_text FROM pipe_segments "
                         "WHERE valid_to IS NULL") == [(219.0, None, None, "Φ219×6")]
