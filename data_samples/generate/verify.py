"""Read a written sample set back and check it, so a broken generator never gets committed.

The checks cover CRS, counts, validity, no overlaps, no gaps, tiling, every building inside a
district, GBK-not-UTF-8, the pipe workbook's sheets, the CSV encodings, X = northing /
Y = easting, the component census's subclasses and the total size. A failed check raises
``AssertionError``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import shapely

from data_samples.generate.components import COMPONENT_CODES, COMPONENT_FIELDS
from data_samples.generate.frame import STORAGE_CRS
from data_samples.generate.pipes import PIPE_CLASSES, PIPE_CSV_GBK, PIPE_CSV_UTF8, PIPE_WORKBOOK
from data_samples.generate.vocabulary import BUILDING_FIELDS, BUILDING_USES, STRUCTURES


def verify_sample_set(out_dir: Path) -> bool:
    """Read the sample set back and check it; raises AssertionError on a problem."""
    import yaml
    from pyproj import Transformer

    out = Path(out_dir)
    prof = yaml.safe_load((out / "profile.yaml").read_text(encoding="utf-8"))
    assert prof["storage_crs"] == STORAGE_CRS and prof["city"]["admin_code"] == "370800"
    assert [d["code"] for d in prof["districts"]] == ["370811", "370826"]

    bnd = pyogrio.read_dataframe(out / prof["boundaries"], layer="districts")
    info = pyogrio.read_info(out / prof["boundaries"], layer="districts")
    assert info["crs"] == STORAGE_CRS and info["geometry_type"] == "MultiPolygon", info
    assert list(bnd["code"]) == ["370811", "370826"] and bnd.is_valid.all()
    a, b = bnd.geometry.iloc[0], bnd.geometry.iloc[1]
    assert a.intersection(b).area < 1e-6, "districts overlap"
    union = shapely.union_all(bnd.geometry.values)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0, "district union has gaps"
    assert abs(union.area - shapely.box(*union.bounds).area) < 1e-3
    print(f"districts: {len(bnd)} valid, union {union.area / 1e6:.2f} km², "
          f"bounds {tuple(round(v, 2) for v in union.bounds)}")

    grid = pyogrio.read_dataframe(out / prof["grid"], layer="grid_cells")
    ginfo = pyogrio.read_info(out / prof["grid"], layer="grid_cells")
    assert ginfo["crs"] == STORAGE_CRS, ginfo
    assert grid.is_valid.all() and grid["code"].str.fullmatch(r"\d{15}").all()
    assert grid["code"].is_unique
    assert (grid["code"].str[:6] == grid["district_code"]).all()
    for code, dist in zip(bnd["code"], bnd.geometry):
        cells = grid[grid["district_code"] == code]
        cu = shapely.union_all(cells.geometry.values)
        assert cu.symmetric_difference(dist).area < 1e-2, f"cells of {code} do not tile it"
        assert abs(cells.area.sum() - dist.area) < 1e-2, f"cells of {code} overlap"
        print(f"grid {code}: {len(cells)} cells, {cells['code'].str[6:9].nunique()} streets, "
              f"{cells['code'].str[6:12].nunique()} communities, "
              f"areas {cells.area.min():.0f}–{cells.area.max():.0f} m²")

    shp = out / "buildings" / "buildings_survey.shp"
    for ext in (".shp", ".shx", ".dbf", ".prj"):
        assert shp.with_suffix(ext).exists(), ext
    assert not shp.with_suffix(".cpg").exists(), ".cpg must not be delivered"
    sinfo = pyogrio.read_info(shp)
    assert sinfo["crs"] == STORAGE_CRS, sinfo["crs"]
    # DBF: field names and records are GBK and NOT valid UTF-8
    raw = shp.with_suffix(".dbf").read_bytes()
    header_len = int.from_bytes(raw[8:10], "little")
    body = raw[32:header_len - 1] + raw[header_len:]
    body.decode("gbk")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        raise AssertionError(".dbf decodes as UTF-8")
    bld = pyogrio.read_dataframe(shp, encoding="GBK")
    assert list(bld.columns[:-1]) == list(BUILDING_FIELDS), list(bld.columns)
    assert bld["编号"].is_unique
    assert set(bld["建筑用途"]) <= set(BUILDING_USES) and set(bld["结构"]) <= set(STRUCTURES)
    assert bld["建成年代"].between(1985, 2024).all()
    invalid = bld.loc[~bld.is_valid, "编号"].tolist()
    null_h = bld.loc[bld["建筑高度"].isna(), "编号"].tolist()
    assert len(invalid) == 2 and len(null_h) == 3, (invalid, null_h)
    geoms = shapely.make_valid(bld.geometry.values)
    inside = np.zeros(len(bld), bool)
    for dist in bnd.geometry:
        inside |= shapely.within(geoms, dist)
    assert inside.all(), f"{(~inside).sum()} buildings outside a single district"
    tree = shapely.STRtree(geoms)
    pairs = tree.query(geoms, predicate="intersects")
    pairs = pairs[:, pairs[0] < pairs[1]]
    assert pairs.shape[1] == 0, f"{pairs.shape[1]} overlapping footprint pairs"
    per_district = {c: int(shapely.within(geoms, d).sum()) for c, d in zip(bnd["code"], bnd.geometry)}

    tr = Transformer.from_crs(STORAGE_CRS, "EPSG:4326", always_xy=True)
    minx, miny, maxx, maxy = bld.total_bounds
    lons, lats = tr.transform(*np.array([[minx, minx, maxx, maxx], [miny, maxy, miny, maxy]]))
    print(f"buildings: {len(bld)} ({per_district}), CRS {sinfo['crs']}, "
          f"projected bounds {tuple(round(float(v), 1) for v in bld.total_bounds)}")
    print(f"  lon/lat bbox: {min(lons):.5f}, {min(lats):.5f} – {max(lons):.5f}, {max(lats):.5f}")
    print(f"  bow-tie (invalid): {invalid}; NULL 建筑高度: {null_h}")
    print("  用途:", bld["建筑用途"].value_counts().to_dict())
    print("  结构:", bld["结构"].value_counts().to_dict())
    print("  sample names:", bld["建筑名称"].dropna().drop_duplicates().sample(8, random_state=1).tolist())
    verify_pipe_survey(out / "pipes")
    verify_component_census(out / "components")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    for p in sorted(out.rglob("*")):
        if p.is_file():
            print(f"  {p.relative_to(out)}: {p.stat().st_size:,} bytes")
    print(f"total: {total:,} bytes")
    assert total < 10_000_000
    return True


def verify_pipe_survey(pipes: Path) -> None:
    """The survey tables read back as delivered: workbook sheets, GBK and UTF-8-BOM CSVs,
    X = northing and Y = zone-prefixed easting."""
    import csv
    import io

    import openpyxl

    wb = openpyxl.load_workbook(pipes / PIPE_WORKBOOK, read_only=True)
    names = [PIPE_CLASSES[k]["name"] for k in ("JS", "YS", "WS", "RQ")]
    assert wb.sheetnames == [f"{n}管线{t}" for n in names for t in ("点", "段")], wb.sheetnames
    wb.close()
    gbk = [(pipes / f).read_bytes() for f in PIPE_CSV_GBK]
    for raw in gbk:
        raw.decode("gbk")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise AssertionError("the 热力 CSV must be GBK, not UTF-8")
    utf = [(pipes / f).read_bytes() for f in PIPE_CSV_UTF8]
    assert all(raw.startswith(b"\xef\xbb\xbf") for raw in utf)
    pts = list(csv.DictReader(io.StringIO(utf[0].decode("utf-8-sig"))))
    assert {r["管线类别"] for r in pts} == {"电力", "通信"}
    xs = np.array([float(r["X"]) for r in pts])
    ys = np.array([float(r["Y"]) for r in pts])
    assert ((xs > 3_909_500) & (xs < 3_918_500)).all(), "X is the northing"
    assert ((ys > 39_460_000) & (ys < 39_468_000)).all(), "Y is the zone-prefixed easting"
    print(f"pipes: {PIPE_WORKBOOK} ({len(names)} classes), {PIPE_CSV_GBK[0]} (GBK), "
          f"{PIPE_CSV_UTF8[0]} (UTF-8 BOM, {len(pts)} points of 电力 and 通信)")


def verify_component_census(comp: Path) -> None:
    """The census shapefiles: GBK without .cpg, their geometry types, ≥ 20 subclasses of all
    six major classes."""
    subclasses = set()
    for name, gtype in (("components_points", "Point"), ("components_lines", "LineString"),
                        ("components_polygons", "Polygon")):
        shp = comp / f"{name}.shp"
        assert not shp.with_suffix(".cpg").exists(), ".cpg must not be delivered"
        info = pyogrio.read_info(shp)
        assert info["crs"] == STORAGE_CRS and info["geometry_type"] == gtype, info
        raw = shp.with_suffix(".dbf").read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise AssertionError(f"{name}.dbf decodes as UTF-8")
        df = pyogrio.read_dataframe(shp, encoding="GBK", read_geometry=False)
        assert list(df.columns) == COMPONENT_FIELDS and df["编号"].is_unique
        subclasses |= {COMPONENT_CODES[n][0] for n in df["部件名称"] if n in COMPONENT_CODES}
    majors = {c[:2] for c in subclasses}
    assert len(subclasses) >= 20 and majors == {"01", "02", "03", "04", "05", "06"}
    print(f"components: {len(subclasses)} subclasses of majors {sorted(majors)}")
