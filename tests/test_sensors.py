"""The sensor registry (issue 14 item 1) and the operational layers served (item 5).

Expected values come from the registry file read with the csv module, the watched assets'
stored WKB read with shapely (point, line midpoint, point on surface), and SQL counts — never
from the loader or the services under test.
"""

from __future__ import annotations

import csv
import math
import time

import mapbox_vector_tile
import pytest
import requests
import shapely

from cim.errors import InputError
from cim.profile import DICTIONARY_DIR
from tests.conftest import (
    SAMPLES,
    drop_database,
    load_network_samples,
    load_sensor_samples,
    make_db,
    replay_sample_day,
    server_url,
    start_api,
)

REGISTRY = SAMPLES / "sensors" / "sensors.csv"
HEADER = "设备编号,设备名称,监测类型,计量单位,监测对象编码,安装日期,状态,上报周期(秒),数据来源,X,Y\n"


def registry_rows() -> list[dict]:
    with open(REGISTRY, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def sdb(jining_profile):
    """A database of its own: profile, pipes, components, the sample sensors."""
    d = make_db("sensors", jining_profile)
    load_network_samples(d, jining_profile)
    load_sensor_samples(d, jining_profile)
    yield d
    drop_database(server_url(), d.name)


def write(tmp_path, name: str, rows: list[str]):
    p = tmp_path / name
    p.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return p


def test_sample_registry_loads_whole_with_codes_of_the_scheme(sdb):
    rows = registry_rows()
    r = sdb.sensors_report
    assert (r.read, r.loaded, r.rejected) == (len(rows), len(rows), 0)
    got = dict(sdb.rows("SELECT device_id, code FROM sensors WHERE valid_to IS NULL"))
    with open(DICTIONARY_DIR / "sensor_types.csv", encoding="utf-8") as fh:
        types = {row["code"]: row["name"] for row in csv.DictReader(fh)}
    by_name = {v: k for k, v in types.items()}
    for row in rows:
        code = got[row["设备编号"]]
        type_code = row["监测类型"] if row["监测类型"] in types else by_name[row["监测类型"]]
        district = sdb.scalar("SELECT district_code FROM sensors WHERE code = %s AND "
                              "valid_to IS NULL", (code,))
        assert code == f"{district}92{type_code}" + code[10:] and len(code) == 18, row


def test_codes_stable_on_reload_and_a_change_is_a_new_version(sdb, tmp_path):
    from loaders.sensors import load_sensors

    before = dict(sdb.rows("SELECT device_id, code FROM sensors WHERE valid_to IS NULL"))
    copy = tmp_path / "另一个文件名.csv"  # the file's name plays no part in the keys
    copy.write_bytes(REGISTRY.read_bytes())
    again = load_sensors(sdb.conninfo, sdb.profile, copy)
    assert (again.unchanged, again.inserted, again.updated) == (len(before), 0, 0)
    text = REGISTRY.read_text(encoding="utf-8").splitlines()
    i = next(k for k, line in enumerate(text) if line.startswith("GP-002,"))
    text[i] = text[i].replace(",运行,", ",维修,")
    changed = tmp_path / "sensors.csv"
    changed.write_text("\n".join(text) + "\n", encoding="utf-8")
    rep = load_sensors(sdb.conninfo, sdb.profile, changed)
    assert (rep.updated, rep.inserted, rep.codes_issued) == (1, 0, 0)
    after = dict(sdb.rows("SELECT device_id, code FROM sensors WHERE valid_to IS NULL"))
    assert after == before
    versions = sdb.rows("SELECT status, valid_to IS NULL FROM sensors WHERE code = %s "
                        "ORDER BY id", (before["GP-002"],))
    assert versions == [("运行", False), ("维修", True)]
    load_sensors(sdb.conninfo, sdb.profile, REGISTRY)  # back as the sample has it


def test_position_from_the_asset_is_its_point_midpoint_or_point_on_surface(sdb):
    rows = sdb.rows(
        "SELECT s.device_id, ST_AsBinary(s.geom), s.asset_layer, s.asset_class, r.layer, "
        "'position_from_asset' = ANY(s.flags) FROM sensors s "
        "JOIN code_registry r ON r.code = s.asset_code WHERE s.valid_to IS NULL")
    registry = {r["设备编号"]: r for r in registry_rows()}
    assert len(rows) == sum(1 for r in registry.values() if r["监测对象编码"])
    kinds = set()
    for device, wkb, layer, asset_class, registered_layer, from_asset in rows:
        assert layer == registered_layer
        shape, cls = sdb.rows(
            f"SELECT ST_AsBinary(ST_Force2D(geom)), "
            f"{'subclass_code' if layer == 'components' else 'pipe_class'} FROM {layer} "
            "WHERE valid_to IS NULL AND code = (SELECT asset_code FROM sensors WHERE "
            "device_id = %s AND valid_to IS NULL)", (device,))[0]
        asset = shapely.from_wkb(bytes(shape))
        assert asset_class == cls
        got = shapely.from_wkb(bytes(wkb))
        if not registry[device]["X"]:
            assert from_asset
            if asset.geom_type == "Point":
                want = asset
            elif asset.geom_type == "LineString":
                want = asset.interpolate(0.5, normalized=True)
            else:
                want = asset.point_on_surface()
            kinds.add(asset.geom_type)
            assert got.distance(want) < 1e-6, (device, got, want)
        else:
            assert not from_asset and got.distance(asset) < 5
    assert kinds == {"Point", "LineString"}


def test_x_is_the_northing(sdb):
    """Registry X/Y as surveyors write them: X northing, Y easting (storage CRS here)."""
    for row in registry_rows():
        if not row["X"]:
            continue
        x, y = sdb.rows("SELECT ST_X(geom), ST_Y(geom) FROM sensors WHERE device_id = %s "
                        "AND valid_to IS NULL", (row["设备编号"],))[0]
        assert math.isclose(x, float(row["Y"]), abs_tol=1e-6)
        assert math.isclose(y, float(row["X"]), abs_tol=1e-6)


def test_exchanged_columns_are_refused(sdb, tmp_path):
    from loaders.sensors import load_sensors

    x, y = sdb.rows("SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
                    "FROM grid_cells ORDER BY code LIMIT 1) q")[0]
    p = write(tmp_path, "swapped.csv", [f"SW-1,积水,积水深度,m,,,,,,{y},{x}"])
    with pytest.raises(InputError, match="exchanged"):
        load_sensors(sdb.conninfo, sdb.profile, p)


def test_bad_rows_rejected_naming_row_and_field(sdb, tmp_path):
    from loaders.sensors import load_sensors

    pipe = sdb.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL ORDER BY code "
                      "LIMIT 1")
    p = write(tmp_path, "bad.csv", [
        f"OK-1,好的,管网压力,MPa,{pipe},,,,,,",              # line 2
        "BAD-1,不存在的对象,管网压力,MPa,370811830399999999,,,,,,",  # line 3
        f"BAD-2,单位不对,管网压力,kPa,{pipe},,,,,,",          # line 4
        "BAD-3,类型不对,压强,MPa,,,,,,,",                    # line 5
        "BAD-4,没有位置,燃气浓度,%LEL,,,,,,,",                # line 6
    ])
    rep = load_sensors(sdb.conninfo, sdb.profile, p)
    assert (rep.read, rep.loaded, rep.rejected) == (5, 1, 4)
    got = sdb.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s "
                   "ORDER BY row_number", (rep.batch_id,))
    assert got == [(3, "unknown_asset", "监测对象编码"), (4, "unit_mismatch", "计量单位"),
                   (5, "unknown_class", "监测类型"), (6, "missing_position", "X")]
    msg = sdb.scalar("SELECT message FROM load_rejects WHERE batch_id = %s AND row_number = 3",
                     (rep.batch_id,))
    assert "370811830399999999" in msg
    sdb.rows("UPDATE sensors SET valid_to = now() WHERE device_id = 'OK-1' AND valid_to IS NULL "
             "RETURNING id")


def test_attrs_keep_what_no_column_holds_and_a_remark_changed_alone_is_a_version(sdb,
                                                                                tmp_path):
    from loaders.sensors import load_sensors

    pipe = sdb.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL ORDER BY code "
                      "LIMIT 1")
    p = tmp_path / "remarks.csv"

    def deliver(remark: str):
        p.write_text(HEADER.rstrip("\n") + ",维护备注\n"
                     + f"RM-1,备注一,管网压力,MPa,{pipe},2024-05-01,运行,60,平台,,,{remark}\n"
                     + f"RM-2,备注二,管网压力,MPa,{pipe},2024-05-01,运行,60,平台,,,正常\n",
                     encoding="utf-8")
        return load_sensors(sdb.conninfo, sdb.profile, p)

    first = deliver("正常")
    assert (first.loaded, first.inserted) == (2, 2)
    # the delivered asset reference (its code is in asset_code) and the remark: no column's
    assert sdb.scalar("SELECT attrs FROM sensors WHERE device_id = 'RM-1' "
                      "AND valid_to IS NULL") == {"监测对象编码": pipe, "维护备注": "正常"}
    # rows loaded before kept every field in attrs: the same registry is unchanged
    sdb.rows("UPDATE sensors SET attrs = attrs || jsonb_build_object('设备编号', device_id, "
             "'设备名称', name, '状态', '运行') WHERE device_id LIKE 'RM-%%' AND valid_to IS NULL "
             "RETURNING id")
    same = deliver("正常")
    assert (same.updated, same.unchanged) == (0, 2)
    again = deliver("阀门更换")
    assert (again.updated, again.unchanged) == (1, 1)
    assert sdb.rows("SELECT attrs->>'维护备注', valid_to IS NULL FROM sensors "
                    "WHERE device_id = 'RM-1' ORDER BY id") == [("正常", False), ("阀门更换", True)]
    sdb.rows("UPDATE sensors SET valid_to = now() WHERE device_id LIKE 'RM-%%' "
             "AND valid_to IS NULL RETURNING id")


@pytest.fixture(scope="module")
def served(sdb, tmp_path_factory):
    """The sample day replayed (alarms and cases opened), then the platform's app."""
    counts = replay_sample_day(sdb, sdb.profile)
    proc, base = start_api(sdb.url, sdb.profile, tmp_path_factory.mktemp("sensors_api"))
    yield base, counts
    proc.terminate()
    proc.wait(30)


def test_collections_sensors_alarms_cases_served_without_personal_data(sdb, served):
    base, counts = served
    assert counts["alarms_opened"] >= 2 and counts["cases_opened"] >= 2
    ids = [c["id"] for c in requests.get(f"{base}/collections?f=json", timeout=30)
           .json()["collections"]]
    assert {"sensors", "alarms", "cases"} <= set(ids)
    for name in ("sensors", "alarms", "cases"):
        fc = requests.get(f"{base}/collections/{name}/items?f=json&limit=1000", timeout=30).json()
        assert fc["numberMatched"] == sdb.scalar(
            f"SELECT count(*) FROM {name} WHERE valid_to IS NULL") > 0, name
    cases = requests.get(f"{base}/collections/cases/items?f=json&limit=1000", timeout=30).json()
    props = set().union(*(f["properties"] for f in cases["features"]))
    # the reporter's columns (kept apart in case_contacts), tokens, photos, free text, detail
    private = {c for (c,) in sdb.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_name = "
        "'case_contacts'")} - {"case_id"}
    assert private >= {"reporter_name", "phone"}
    assert not props & (private | {"token_hash", "content", "description", "detail"})
    assert {"state", "category_name", "deadline"} <= props
    q = requests.get(f"{base}/collections/cases/queryables?f=json", timeout=30).json()
    assert not set(q["properties"]) & {"description", "detail"}
    alarm = requests.get(f"{base}/collections/alarms/items?f=json&limit=1", timeout=30).json()
    assert {"level", "last_value", "case_code"} <= set(alarm["features"][0]["properties"])
    active = requests.get(f"{base}/collections/alarms/items", timeout=30, params={
        "f": "json", "filter": "status='active'"}).json()
    assert active["numberMatched"] == sdb.scalar(
        "SELECT count(*) FROM alarms WHERE valid_to IS NULL AND status = 'active'") > 0
    for name in ("sensors", "alarms", "cases"):  # pygeoapi's pages of them
        page = requests.get(f"{base}/collections/{name}/items?f=html", timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower(), name


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_tiles_carry_active_alarms_and_open_cases_and_change_with_them(sdb, served):
    base, _ = served
    alarm, lon, lat = sdb.rows("SELECT code, ST_X(p), ST_Y(p) FROM alarms, "
                               "ST_Transform(geom, 4490) AS p WHERE status = 'active' "
                               "AND valid_to IS NULL ORDER BY code LIMIT 1")[0]
    x, y = tile_of(lon, lat, 15)
    url = f"{base}/tiles/WebMercatorQuad/15/{y}/{x}?collections=sensors,alarms,cases"
    r = requests.get(url, timeout=30)
    assert r.status_code == 200
    tile = mapbox_vector_tile.decode(r.content)
    assert alarm in [f["properties"]["code"] for f in tile["alarms"]["features"]]
    assert tile["sensors"]["features"]
    open_cases = {c for (c,) in sdb.rows("SELECT code FROM cases WHERE valid_to IS NULL AND "
                                         "state NOT IN ('结案', '作废')")}
    shown = {f["properties"]["code"] for f in tile.get("cases", {"features": []})["features"]}
    assert shown <= open_cases
    # the alarm cleared in place: the tile's ETag moves and the alarm leaves the map
    etag = r.headers["ETag"]
    versions = requests.get(f"{base}/tiles/versions?collections=alarms", timeout=30).json()
    sdb.rows("UPDATE alarms SET status = 'cleared', cleared_at = now() WHERE code = %s "
             "RETURNING id", (alarm,))
    try:
        time.sleep(1.5)  # the tiles' version TTL
        moved = requests.get(f"{base}/tiles/versions?collections=alarms", timeout=30).json()
        assert moved["versions"]["alarms"] != versions["versions"]["alarms"]
        r2 = requests.get(url, headers={"If-None-Match": etag}, timeout=30)
        assert r2.status_code in (200, 204) and r2.headers["ETag"] != etag
        gone = mapbox_vector_tile.decode(r2.content) if r2.content else {}
        assert alarm not in [f["properties"]["code"]
                             for f in gone.get("alarms", {"features": []})["features"]]
    finally:
        sdb.rows("UPDATE alarms SET status = 'active', cleared_at = NULL WHERE code = %s "
                 "RETURNING id", (alarm,))


def test_excel_registry_with_a_title_row_is_the_same_registry(sdb, tmp_path):
    """The registry as a workbook (a title row above the header, type codes typed as numbers,
    dates as dates): the same sensors, nothing changed, no code issued."""
    import datetime as dt

    import openpyxl

    from loaders.sensors import load_sensors

    rows = registry_rows()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["监测设备台账（示例）"])
    ws.append(list(rows[0]))
    for r in rows:
        vals = dict(r)
        if vals["监测类型"].isdigit():
            vals["监测类型"] = int(vals["监测类型"])  # Excel keeps 01 as the number 1
        vals["安装日期"] = dt.date.fromisoformat(vals["安装日期"])
        for k in ("上报周期(秒)", "X", "Y"):
            vals[k] = float(vals[k]) if vals[k] else None
        ws.append([vals[k] for k in rows[0]])
    path = tmp_path / "监测设备台账.xlsx"
    wb.save(path)
    rep = load_sensors(sdb.conninfo, sdb.profile, path)
    assert (rep.read, rep.unchanged, rep.inserted, rep.updated, rep.codes_issued) == \
        (len(rows), len(rows), 0, 0, 0)


def test_cli_load_sensors(sdb, tmp_path):
    import json

    from tests.conftest import run_cli

    env = sdb.env()
    out = run_cli(["load", "sensors", str(REGISTRY), "--json"], env, check=True)
    rep = json.loads(out.stdout)
    assert rep["layer"] == "sensors" and rep["read"] == len(registry_rows()) == rep["unchanged"]
    gone = run_cli(["load", "sensors", str(tmp_path / "missing.csv")], env)
    assert gone.returncode == 3 and "missing.csv" in gone.stderr and "Traceback" not in gone.stderr
    noreg = write(tmp_path, "x.csv", [])
    noreg.write_text("名称,备注\n甲,乙\n", encoding="utf-8")
    bad = run_cli(["load", "sensors", str(noreg)], env)
    assert bad.returncode == 3 and "设备编号" in bad.stderr


def test_position_on_a_polygon_and_a_line_component(sdb, tmp_path):
    """A sensor on an area (a car park) sits on its point on surface, on a line component (a
    guard rail) at its midpoint — shapely's, on the stored geometry."""
    from loaders.sensors import load_sensors

    found = {}
    for kind in ("ST_Polygon', 'ST_MultiPolygon", "ST_LineString', 'ST_MultiLineString"):
        found[kind[3:7]] = sdb.rows(
            "SELECT code, ST_AsBinary(ST_Force2D(geom)) FROM components WHERE valid_to IS NULL "
            f"AND ST_GeometryType(geom) IN ('{kind}') ORDER BY code LIMIT 1")[0]
    p = write(tmp_path, "areas.csv", [f"AREA-1,停车场积水,积水深度,m,{found['Poly'][0]},,,,,,",
                                      f"LINE-1,护栏倾斜,06,°,{found['Line'][0]},,,,,,"])
    rep = load_sensors(sdb.conninfo, sdb.profile, p)
    assert rep.loaded == 2
    for device, (_code, wkb) in (("AREA-1", found["Poly"]), ("LINE-1", found["Line"])):
        asset = shapely.from_wkb(bytes(wkb))
        if asset.geom_type.endswith("Polygon"):
            want = asset.point_on_surface()
        else:
            merged = shapely.line_merge(asset) if asset.geom_type.startswith("Multi") else asset
            want = merged.interpolate(0.5, normalized=True) \
                if merged.geom_type == "LineString" else asset.point_on_surface()
        got = shapely.from_wkb(bytes(sdb.scalar(
            "SELECT ST_AsBinary(geom) FROM sensors WHERE device_id = %s AND valid_to IS NULL",
            (device,))))
        assert got.distance(want) < 1e-6, (device, got, want)
    sdb.rows("UPDATE sensors SET valid_to = now() WHERE device_id IN ('AREA-1', 'LINE-1') "
             "AND valid_to IS NULL RETURNING id")


def test_sample_day_crosses_the_thresholds_it_was_made_for(sdb, served):
    """The sample day (data_samples/jining/sensors/readings_day.csv) against the thresholds
    file, both read with csv: each sensor's most severe level reached is its alarm's level;
    the silent sensor has a gap alarm; every threshold alarm is cleared by the day's end."""
    with open(DICTIONARY_DIR / "sensor_thresholds.csv", encoding="utf-8") as fh:
        all_rules = list(csv.DictReader(fh))
    # the most specific row set: the asset's class (checked against the asset's own table in
    # test_position_from_the_asset…) where the file has rows for it, else the type's
    classes = dict(sdb.rows("SELECT device_id, coalesce(asset_class, '') FROM sensors "
                            "WHERE valid_to IS NULL"))
    with open(SAMPLES / "sensors" / "readings_day.csv", encoding="utf-8") as fh:
        series: dict[str, list[float]] = {}
        for r in csv.DictReader(fh):
            series.setdefault(r["设备编号"], []).append(float(r["监测值"]))
    types = {r["设备编号"]: r["监测类型"] for r in registry_rows()}
    with open(DICTIONARY_DIR / "sensor_types.csv", encoding="utf-8") as fh:
        by_name = {r["name"]: r["code"] for r in csv.DictReader(fh)}
    expected = {}
    for device, values in series.items():
        t = by_name.get(types[device], types[device])
        own = [r for r in all_rules if r["type_code"] == t and r["asset_class"] == classes[device]]
        rules = own or [r for r in all_rules if r["type_code"] == t and not r["asset_class"]]
        hit = [int(r["level"]) for r in rules if (
            max(values) >= float(r["on"]) if r["direction"] == "above"
            else min(values) <= float(r["on"]))]
        if hit:
            expected[device] = min(hit)
    assert expected == {"GAS-001": 1, "WP-001": 2, "BD-001": 3}
    got = dict(sdb.rows("SELECT device_id, min(level) FROM alarms WHERE kind = 'threshold' "
                        "GROUP BY device_id"))
    assert got == expected
    assert sdb.rows("SELECT DISTINCT status FROM alarms WHERE kind = 'threshold'") == \
        [("cleared",)]
    assert sdb.rows("SELECT device_id, status FROM alarms WHERE kind = 'gap'") == \
        [("LV-003", "active")]


def test_geopackage_registry_table_is_the_same_registry(sdb, tmp_path):
    """The registry as a GeoPackage attribute table (numbers typed as numbers)."""
    import pandas as pd
    import pyogrio

    from loaders.sensors import load_sensors

    df = pd.DataFrame(registry_rows())
    for k in ("上报周期(秒)", "X", "Y"):
        df[k] = pd.to_numeric(df[k].replace("", None))
    path = tmp_path / "sensors.gpkg"
    pyogrio.write_dataframe(df, path, layer="监测设备", driver="GPKG")
    rep = load_sensors(sdb.conninfo, sdb.profile, path)
    assert (rep.read, rep.unchanged, rep.inserted, rep.updated) == (len(df), len(df), 0, 0)


def test_sample_day_bridge_alarm_raises_and_restores_the_bridges_risk_point(db):
    """The sample's bridge (跨河桥 0208) under a heavy load: BD-001's readings against the
    type 07 thresholds (both read with csv; the file has no 0208 rows, so the type's rows
    apply) give the alarm's level, its opening (the first reading at or above the lowest
    ``on``) and its clearing (the first later reading below the lowest level's ``off``). The
    bridge's risk point (rule bridges) went up to the alarm's risk level (iot.yaml) at the
    opening and back to its own likelihood × consequence (risk_matrix.yaml) at the clearing,
    each a risk_assessments row of source 'alarm'; the day ends with it restored."""
    import datetime as dt

    import yaml

    with open(DICTIONARY_DIR / "sensor_thresholds.csv", encoding="utf-8") as fh:
        rules = [r for r in csv.DictReader(fh) if r["type_code"] == "07"]
    assert rules and not [r for r in rules if r["asset_class"] == "0208"]
    rules = [r for r in rules if not r["asset_class"]]
    with open(SAMPLES / "sensors" / "readings_day.csv", encoding="utf-8") as fh:
        day = [(dt.datetime.fromisoformat(r["监测时间"]), float(r["监测值"]))
               for r in csv.DictReader(fh) if r["设备编号"] == "BD-001"]
    lowest = max(rules, key=lambda r: int(r["level"]))  # 四级: the lowest on, and its off
    above = [k for k, (_t, v) in enumerate(day) if v >= float(lowest["on"])]
    assert above == list(range(above[0], above[-1] + 1)), "one excursion in the day"
    level = min(int(r["level"]) for r in rules
                if max(v for _t, v in day) >= float(r["on"]))
    opened = day[above[0]][0]
    cleared = next(t for t, v in day[above[-1] + 1:] if v < float(lowest["off"]))
    assert level == 3

    bridge = db.scalar("SELECT asset_code FROM sensors WHERE device_id = 'BD-001' AND "
                       "valid_to IS NULL")
    assert db.scalar("SELECT subclass_code FROM components WHERE code = %s AND valid_to IS NULL",
                     (bridge,)) == "0208"
    alarms = db.rows("SELECT code, level, status, opened_at, cleared_at, case_code, risk_code "
                     "FROM alarms WHERE device_id = 'BD-001' AND valid_to IS NULL")
    assert len(alarms) == 1
    code, got_level, status, got_opened, got_cleared, case_code, risk_code = alarms[0]
    assert (got_level, status, got_opened, got_cleared) == (level, "cleared", opened, cleared)
    assert db.scalar("SELECT source FROM cases WHERE code = %s AND valid_to IS NULL",
                     (case_code,)) == "传感告警"

    point = db.rows("SELECT code, risk_type_code, likelihood, consequence, level, color, flags "
                    "FROM risk_points WHERE asset_code = %s AND valid_to IS NULL", (bridge,))
    assert len(point) == 1
    pcode, rtype, likelihood, consequence, plevel, pcolor, flags = point[0]
    assert (pcode, rtype) == (risk_code, "0201")
    with open(DICTIONARY_DIR / "risk_matrix.yaml", encoding="utf-8") as fh:
        matrix = yaml.safe_load(fh)
    with open(DICTIONARY_DIR / "iot.yaml", encoding="utf-8") as fh:
        raised_to = yaml.safe_load(fh)["levels"][level]["risk_level"]
    own = matrix["matrix"][likelihood][consequence - 1]
    order = list(matrix["levels"])  # most severe first
    assert order.index(raised_to) < order.index(own), "the alarm must show on the point"
    # the day ends with the alarm cleared: the point is back at its own grade, flag gone
    assert (plevel, pcolor) == (own, matrix["levels"][own]["color"])
    assert not [f for f in flags if f.startswith("alarm:")]
    changes = db.rows("SELECT assessed_at, level, factors->>'action', factors->>'alarm' "
                      "FROM risk_assessments WHERE code = %s AND source = 'alarm' "
                      "ORDER BY assessed_at, id", (pcode,))
    assert changes == [(opened, raised_to, "raise", code), (cleared, own, "restore", code)]


def test_a_sensor_rejected_by_the_merge_keeps_every_field_as_delivered(sdb, tmp_path):
    """A device id delivered twice: the second row is rejected by the staging merge
    (duplicate_source_id) with all its fields, those the columns hold included; the loaded
    row's attrs hold only what no column holds."""
    from loaders.sensors import load_sensors

    pipe = sdb.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL ORDER BY code "
                      "LIMIT 1")
    p = write(tmp_path, "twice.csv", [
        f"DUP-1,第一,管网压力,MPa,{pipe},2024-05-01,运行,60,平台,,",   # line 2
        f"DUP-1,第二,管网压力,MPa,{pipe},2024-05-01,运行,60,平台,,",   # line 3
    ])
    rep = load_sensors(sdb.conninfo, sdb.profile, p)
    assert (rep.read, rep.loaded, rep.rejected) == (2, 1, 1)
    with open(p, encoding="utf-8") as fh:
        delivered = list(csv.DictReader(fh))[1]  # the second row, as the file has it
    row, reason, attrs = sdb.rows("SELECT row_number, reason, attrs FROM load_rejects "
                                  "WHERE batch_id = %s", (rep.batch_id,))[0]
    assert (row, reason) == (3, "duplicate_source_id")
    assert {k: v for k, v in attrs.items() if v not in (None, "")} == \
        {k: v for k, v in delivered.items() if v not in (None, "")}
    assert sdb.scalar("SELECT attrs FROM sensors WHERE device_id = 'DUP-1' "
                      "AND valid_to IS NULL") == {"监测对象编码": pipe}
    sdb.rows("UPDATE sensors SET valid_to = now() WHERE device_id = 'DUP-1' "
             "AND valid_to IS NULL RETURNING id")


def test_ids_as_numbers_intervals_and_dates_read_strictly(sdb, tmp_path):
    """A device id typed as a number is the same id as a REAL (987.0) and as an integer (987);
    an 18-digit id rounded by a float is refused, not loaded as another device's; an interval
    of "5m" is no 5 seconds; a date with more typed after it is no date."""
    import pandas as pd
    import pyogrio

    from loaders.sensors import load_sensors

    pipe = sdb.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL ORDER BY code "
                      "LIMIT 1")
    df = pd.DataFrame({"设备编号": [987.0, 1.234567890123457e+17],
                       "设备名称": ["实数编号", "十八位编号"], "监测类型": ["管网压力"] * 2,
                       "计量单位": ["MPa"] * 2, "监测对象编码": [pipe] * 2,
                       "安装日期": ["2024-03-05", None], "上报周期(秒)": [300, 300]})
    path = tmp_path / "numbers.gpkg"
    pyogrio.write_dataframe(df, path, layer="设备", driver="GPKG")
    assert pyogrio.read_info(path, layer="设备")["dtypes"][0] == "float64"
    rep = load_sensors(sdb.conninfo, sdb.profile, path)
    assert (rep.read, rep.loaded, rep.rejected) == (2, 1, 1), rep.text()
    assert sdb.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s",
                    (rep.batch_id,)) == [(2, "bad_value", "设备编号")]  # the 2nd feature
    assert sdb.rows("SELECT device_id, install_date::text FROM sensors "
                    "WHERE batch_id = %s", (rep.batch_id,)) == [("987", "2024-03-05")]
    # the same device typed as an integer in a CSV: the same sensor, unchanged
    p = write(tmp_path, "int.csv", [f"987,实数编号,管网压力,MPa,{pipe},2024-03-05,,300,,,",
                                    f"NUM-5M,五分钟,管网压力,MPa,{pipe},,,5m,,,",
                                    f"NUM-DATE,日期,管网压力,MPa,{pipe},2024-03-051,,300,,,"])
    again = load_sensors(sdb.conninfo, sdb.profile, p, mode="append")
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 1, 2), \
        again.text()
    assert sdb.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s "
                    "ORDER BY row_number", (again.batch_id,)) == [
        (3, "bad_value", "上报周期(秒)"), (4, "bad_value", "安装日期")]
    sdb.rows("UPDATE sensors SET valid_to = now() WHERE device_id = '987' AND valid_to IS NULL "
             "RETURNING id")


def test_one_row_in_degrees_is_rejected_alone(sdb, tmp_path):
    """A registry in zone-prefixed metres with one row typed in degrees: that row is rejected
    as outside the city, naming it; the file was refused whole ("eastings span several
    Gauss-Krüger zones [0, 39]", naming no row)."""
    from loaders.sensors import load_sensors

    p = write(tmp_path, "deg.csv", [
        "DEG-1,积水1,积水深度,m,,2025-06-26,运行,,排水监测平台,3913350.130,39463983.615",
        "DEG-2,积水2,积水深度,m,,2025-06-26,运行,,排水监测平台,35.3501,116.5874",
        "DEG-3,积水3,积水深度,m,,2025-06-26,运行,,排水监测平台,3913110.641,39464541.133"])
    rep = load_sensors(sdb.conninfo, sdb.profile, p)
    assert (rep.read, rep.loaded, rep.rejected) == (3, 2, 1), rep.text()
    assert sdb.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s",
                    (rep.batch_id,)) == [(3, "outside_area", "X/Y")]
    sdb.rows("UPDATE sensors SET valid_to = now() WHERE device_id LIKE 'DEG-%%' "
             "AND valid_to IS NULL RETURNING id")


def test_codes_in_full_width_digits_and_a_type_typed_as_text(sdb, tmp_path):
    """An asset code typed in an IME's full-width digits is the code; a type 2 typed in a CSV
    is the type 02, as the number 2 of an Excel cell is (both were rejected)."""
    from cim.text import half_width
    from loaders.sensors import load_sensors

    pipe = sdb.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL ORDER BY code "
                      "LIMIT 1")
    wide = pipe.translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})
    assert wide != pipe and half_width(wide) == pipe
    p = write(tmp_path, "wide.csv", [f"FW-1,全角编码,2,MPa,{wide},,,,,,"])
    rep = load_sensors(sdb.conninfo, sdb.profile, p, mode="append")
    assert (rep.read, rep.loaded, rep.rejected) == (1, 1, 0), rep.text()
    assert sdb.rows("SELECT type_code, asset_code FROM sensors WHERE device_id = 'FW-1' "
                    "AND valid_to IS NULL") == [("02", pipe)]
    sdb.rows("UPDATE sensors SET valid_to = now() WHERE device_id = 'FW-1' AND valid_to IS NULL "
             "RETURNING id")


def test_a_workbook_of_two_registry_sheets_is_refused_naming_them(sdb, tmp_path):
    """Two registry sheets (一期, 二期): the first alone was read, the second's devices not
    loaded, and a replace load retired them though the workbook holds them."""
    import openpyxl

    from loaders.sensors import load_sensors

    rows = registry_rows()
    wb = openpyxl.Workbook()
    for title, part in (("一期", rows[: len(rows) // 2]), ("二期", rows[len(rows) // 2:])):
        ws = wb.create_sheet(title)
        ws.append(list(rows[0]))
        for r in part:
            ws.append([r[k] for k in rows[0]])
    del wb[wb.sheetnames[0]]  # the default empty sheet
    path = tmp_path / "台账.xlsx"
    wb.save(path)
    before = sdb.scalar("SELECT count(*) FROM sensors WHERE valid_to IS NULL")
    for mode in ("update", "replace"):
        with pytest.raises(InputError, match="several sensor registries") as e:
            load_sensors(sdb.conninfo, sdb.profile, path, mode=mode)
        assert "一期" in str(e.value) and "二期" in str(e.value)
    assert sdb.scalar("SELECT count(*) FROM sensors WHERE valid_to IS NULL") == before


def test_ids_excel_rounded_in_a_csv_are_refused_naming_the_field(sdb, tmp_path):
    """Excel shows an 18-digit id as 1.23457E+17 and saves it so in a CSV: two devices with
    such ids were stored as one (the second a duplicate). Each is rejected naming 设备编号."""
    from loaders.sensors import load_sensors

    pipe = sdb.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL ORDER BY code "
                      "LIMIT 1")
    p = write(tmp_path, "sci.csv", [
        f"1.23457E+17,甲,管网压力,MPa,{pipe},,,,,,",
        f"1.23457E+17,乙,管网压力,MPa,{pipe},,,,,,",
        f"123456789012345678,丙,管网压力,MPa,{pipe},,,,,,",
    ])
    rep = load_sensors(sdb.conninfo, sdb.profile, p)
    assert (rep.read, rep.loaded, rep.rejected) == (3, 1, 2), rep.text()
    got = sdb.rows("SELECT row_number, field, message FROM load_rejects WHERE batch_id = %s "
                   "ORDER BY row_number", (rep.batch_id,))
    assert [(r, f) for r, f, _m in got] == [(2, "设备编号"), (3, "设备编号")]
    assert all("Excel" in m for _r, _f, m in got)
    sdb.rows("UPDATE sensors SET valid_to = now() WHERE device_id = '123456789012345678' "
             "AND valid_to IS NULL RETURNING id")


def test_an_empty_template_sheet_before_the_registry_is_passed_over(sdb, tmp_path):
    """Sheets 模板 (the headers alone) and 设备台账: the registry is the sheet with rows (the
    empty template was taken: "the registry has no rows")."""
    import openpyxl

    from loaders.sensors import load_sensors

    rows = registry_rows()
    wb = openpyxl.Workbook()
    wb.active.title = "模板"
    wb.active.append(list(rows[0]))
    ws = wb.create_sheet("设备台账")
    ws.append(list(rows[0]))
    for r in rows:
        ws.append([r[k] for k in rows[0]])
    path = tmp_path / "台账.xlsx"
    wb.save(path)
    rep = load_sensors(sdb.conninfo, sdb.profile, path)
    assert rep.read == len(rows) and rep.inserted == 0, rep.text()


def test_flags_are_counted_for_the_stored_sensors_only(sdb, tmp_path):
    """A device id twice: the merge stores the first row and rejects the second; both stand
    at their asset (flagged position_from_asset), the report counted two flags for one
    stored sensor."""
    from loaders.sensors import load_sensors

    row = next(r for r in registry_rows() if r["监测对象编码"] and not r["X"])
    line = ",".join(row[h] for h in HEADER.strip().split(","))
    twice = write(tmp_path, "twice.csv", [line, line.replace(row["设备名称"], "另一个名称")])
    rep = load_sensors(sdb.conninfo, sdb.profile, twice)
    assert (rep.read, rep.loaded, rep.rejected) == (2, 1, 1)
    assert rep.flagged_by_reason.get("position_from_asset") == 1
    load_sensors(sdb.conninfo, sdb.profile, REGISTRY)  # back as the sample has it
