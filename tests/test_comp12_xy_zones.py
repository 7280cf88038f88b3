"""A census table or a sensor registry whose eastings carry two Gauss-Krüger zone prefixes
(one row typed 40,463,… among 39,46…: a mistyped prefix) is refused whole, as one file holds
one zone — but the error named neither the file (components), nor the rows of the odd zone,
nor the column: the surveyor was told to "correct the rows of the other zone" and not which.
The pipe survey's tables name them (loaders.pipes.survey); so do these now. The rows of the
odd zone are known by construction (the ones written with 40 as prefix)."""

from __future__ import annotations

import csv

import pytest

from cim.errors import InputError
from loaders.components import load_components
from loaders.sensors import load_sensors
from tests.conftest import run_cli, scratch_db


def _points(d, k: int) -> list[tuple[float, float]]:
    """k (northing, easting) pairs inside the big grid cell, eastings with zone 39's prefix."""
    return [(d.y0 + 20 + 10 * i, d.x0 + 20 + 10 * i) for i in range(k)]


@pytest.fixture(scope="module")
def zdb(jining_profile):
    with scratch_db("c12zones", jining_profile) as d:
        yield d


def test_a_census_table_with_a_row_of_another_zone_names_file_row_and_column(zdb, tmp_path):
    path = tmp_path / "普查.csv"
    pts = _points(zdb, 12)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["编号", "部件小类", "X坐标", "Y坐标"])
        for i, (n, e) in enumerate(pts):
            # data row i is the file's row i + 2 (the header is row 1); row 6 in zone 40
            w.writerow([f"Z{i:03d}", "0101", f"{n:.3f}",
                        f"{e + 1_000_000:.3f}" if i + 2 == 6 else f"{e:.3f}"])
    with pytest.raises(InputError) as exc:
        load_components(zdb.conninfo, zdb.profile, path)
    e = exc.value
    assert (e.row, e.field) == (6, "Y坐标"), str(e)
    assert e.path is not None and e.path.endswith("普查.csv"), str(e)
    assert "row 6 (zone 40)" in e.message, str(e)
    assert zdb.scalar("SELECT count(*) FROM components") == 0
    # the CLI's one line says the same
    out = run_cli(["load", "components", str(path)], zdb.env())
    assert out.returncode == 3, out.stderr
    assert f"{path}, row 6, field 'Y坐标'" in out.stderr and "zone 40" in out.stderr, out.stderr


def test_a_sensor_registry_with_rows_of_another_zone_names_them(zdb, tmp_path):
    path = tmp_path / "设备.csv"
    pts = _points(zdb, 8)
    odd = {3, 7}  # file rows (header row 1) typed with zone 40's prefix
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["设备编号", "设备名称", "监测类型", "X", "Y"])
        for i, (n, e) in enumerate(pts):
            w.writerow([f"WL-{i:03d}", f"液位计{i}", "井下液位", f"{n:.3f}",
                        f"{e + 1_000_000:.3f}" if i + 2 in odd else f"{e:.3f}"])
    with pytest.raises(InputError) as exc:
        load_sensors(zdb.conninfo, zdb.profile, path)
    e = exc.value
    assert e.field == "Y" and e.path is not None and e.path.endswith("设备.csv"), str(e)
    assert "row 3 (zone 40)" in e.message and "row 7 (zone 40)" in e.message, str(e)
    assert zdb.scalar("SELECT count(*) FROM sensors") == 0
