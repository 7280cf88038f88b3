"""A CityGML naming BuildingParts of which no building has more than one LOD1 geometry (each
part the building's only solid) is read as it is: the temporary copy written while looking
was kept until the process ended — a city model's size on disk for nothing, for as long as
the process (``cim serve``, a worker) lives. It is removed at once now."""

from __future__ import annotations

import tempfile

from loaders.sources.read import _building_parts_merged
from tests.test_citygml_parts import _part, _solid

X, Y = 367100.0, 5808000.0


def test_a_copy_that_merged_nothing_is_removed_at_once(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where _scratch_dir writes
    src = tmp_path / "oneparts.gml"
    src.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CityModel xmlns="http://www.opengis.net/citygml/2.0" '
        'xmlns:gml="http://www.opengis.net/gml" '
        'xmlns:bldg="http://www.opengis.net/citygml/building/2.0">\n'
        '<cityObjectMember><bldg:Building gml:id="A">'
        + _part("A1", _solid(X, Y, X + 10, Y + 10, 40, 50))
        + "</bldg:Building></cityObjectMember>\n</CityModel>\n", encoding="utf-8")
    assert _building_parts_merged(src) is None
    assert list(scratch.iterdir()) == []
