"""Lifeline monitoring samples (issue 14): a sensor registry on the sample's assets and a day
of readings.

``sensors/sensors.csv`` is the vendor's registry (设备编号, 设备名称, 监测类型, 计量单位,
监测对象编码, 安装日期, 状态, 上报周期(秒), 数据来源, X, Y): gas-concentration detectors in gas
valve wells and under gas manhole covers, pressure transmitters on gas and water mains, flow
meters on water mains, level meters in drainage wells, smart manhole covers, temperature
sensors on heating mains, and three waterlogging gauges at road low points that watch no
asset (X/Y only, X = northing as surveyors write it), and last a deflection gauge, a strain
gauge and an accelerometer on the sample's one bridge (跨河桥 0208, the census's last record;
their install dates draw from a stream of their own, :func:`make_bridge_sensors`). The watched asset is named by the identifier the sample
delivery gives it, as the code registry records it (``pipes:RQ:RQ0123``, ``pipes:JS:JS0010-
JS0011``, ``components_points:BJ000123``): the registry is drawn up before the platform coded
the survey, and ``cim load sensors`` resolves it to the platform code. Assets touched by the
survey's seeded errors or the census's imperfections are never chosen (they are not loaded).

``sensors/readings_day.csv`` (设备编号, 监测时间, 监测值) is 2026-06-15 in Beijing time, each
sensor at its interval, with three events the thresholds (``cim/dictionaries/
sensor_thresholds.csv``) catch: GAS-001 (in a valve well of the oldest gas main, which the
risk list grades) rises from ~1 %LEL through every level to 一级 (peak
above 50) between 09:30 and 10:30 and falls back below every ``off`` bound by 12:00; the water
pressure at WP-001 (on the old cast-iron main of ``pipes_gis/``, graded too) drops from ~0.35 MPa to 0.12 (二级, below 0.14) from 14:00 and recovers by
16:00; LV-003 goes silent after 13:00 (a gap); a heavy load on the bridge at 16:40 bends it
to 33.6 mm at BD-001 (三级, above 30; its strain and vibration stay below their thresholds) and
it is back under 18 mm (every ``off`` bound) at 17:00. The 停用 sensor sends nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np

DAY = dt.date(2026, 6, 15)
TZ = dt.timezone(dt.timedelta(hours=8))
# the class keys of the sample's pipe source keys (loaders.pipes: dataset:key:ident)
CLASS_KEY = {"JS": "JS", "YS": "PS", "WS": "PS", "RQ": "RQ", "RL": "RL", "DL": "DL",
             "TX": "TX"}
REGISTRY_HEADER = ["设备编号", "设备名称", "监测类型", "计量单位", "监测对象编码", "安装日期", "状态",
                   "上报周期(秒)", "数据来源", "X", "Y"]
SILENT_AFTER = dt.time(13, 0)


def _excluded_points(seeded) -> set[str]:
    return {i for _rule, _letters, ids in seeded for i in ids}


def _points(tables, letters, excluded, appurtenances=None) -> list[dict]:
    pts = tables[letters][0]
    out = []
    for rec in pts.to_dict("records"):
        if rec["物探点号"] in excluded:
            continue
        if appurtenances and rec.get("附属物") not in appurtenances:
            continue
        out.append(rec)
    return sorted(out, key=lambda r: r["物探点号"])


def _segments(tables, letters, excluded) -> list[dict]:
    segs = tables[letters][1]
    out = [r for r in segs.to_dict("records")
           if r["起始点号"] not in excluded and r["终止点号"] not in excluded
           and r["起始点号"] != r["终止点号"]]
    # a duplicated pair is a seeded error too
    pairs: dict[tuple, int] = {}
    for r in out:
        k = tuple(sorted((r["起始点号"], r["终止点号"])))
        pairs[k] = pairs.get(k, 0) + 1
    return sorted((r for r in out if pairs[tuple(sorted((r["起始点号"], r["终止点号"])))] == 1),
                  key=lambda r: (r["起始点号"], r["终止点号"]))


def _pick(rng, items: list, n: int) -> list:
    idx = sorted(rng.choice(len(items), size=n, replace=False).tolist())
    return [items[i] for i in idx]


def _point_ref(letters: str, rec: dict) -> str:
    return f"pipes:{CLASS_KEY[letters]}:{rec['物探点号']}"


def _seg_ref(letters: str, rec: dict) -> str:
    return f"pipes:{CLASS_KEY[letters]}:{rec['起始点号']}-{rec['终止点号']}"


def _install(rng) -> str:
    d = dt.date(2024, 3, 1) + dt.timedelta(days=int(rng.integers(0, 700)))
    return d.isoformat()


def _oldest_gas_well(tables, excluded) -> dict:
    """A gas valve well (阀门, 凝水缸) at an end of one of the oldest gas segments: the mains
    the risk list grades (risk_rules.yaml: PE/steel gas pipes from 20 years), so the leak the
    sample day plays raises a risk point."""
    segs = tables["RQ"][1]
    oldest = segs[segs["建设年代"] == segs["建设年代"].min()]
    ends = set(oldest["起始点号"]) | set(oldest["终止点号"])
    wells = [r for r in _points(tables, "RQ", excluded, {"阀门", "凝水缸"}) if r["物探点号"] in ends]
    return wells[0]


def make_sensors(tables, seeded, cpts, cnotes, rng, old_main=None) -> list[dict]:
    """The registry rows (dicts keyed by :data:`REGISTRY_HEADER`). ``old_main``: the second
    water delivery (``old_main.make_old_main``), an old cast-iron main the risk list grades,
    which WP-001 watches."""
    excluded = _excluded_points(seeded)
    bad_components = {c for v in cnotes.values() for c in
                      ([x[0] for x in v] if v and isinstance(v[0], tuple) else v)}
    covers = [r for r in cpts.drop(columns="geometry").to_dict("records")
              if "井盖" in str(r["部件小类"]) and r["编号"] not in bad_components]
    covers.sort(key=lambda r: r["编号"])
    gas_covers = [r for r in covers if any(k in str(r["部件小类"]) for k in ("燃气", "煤气"))]
    other_covers = [r for r in covers if r not in gas_covers]
    rows: list[dict] = []

    def add(device, name, typ, unit, ref, interval, source, status="运行", x="", y=""):
        rows.append({"设备编号": device, "设备名称": name, "监测类型": typ, "计量单位": unit,
                     "监测对象编码": ref, "安装日期": _install(rng), "状态": status,
                     "上报周期(秒)": interval, "数据来源": source, "X": x, "Y": y})

    first = _oldest_gas_well(tables, excluded)
    gas_wells = [r for r in _points(tables, "RQ", excluded, {"阀门", "凝水缸"})
                 if r["物探点号"] != first["物探点号"]]
    for i, rec in enumerate([first] + _pick(rng, gas_wells, 3), start=1):
        x = y = ""
        if i == 2:  # one detector surveyed on site: X/Y given, half a metre off the well
            x, y = f"{rec['X'] + 0.5:.3f}", f"{rec['Y'] + 0.3:.3f}"
        add(f"GAS-{i:03d}", f"燃气阀门井可燃气体探测器{i}", "燃气浓度", "%LEL",
            _point_ref("RQ", rec), 300, "燃气物联网平台", x=x, y=y)
    for i, rec in enumerate(_pick(rng, gas_covers, min(2, len(gas_covers))), start=5):
        add(f"GAS-{i:03d}", f"燃气井盖下可燃气体探测器{i}", "01", "%LEL",
            f"components_points:{rec['编号']}", 300, "燃气物联网平台")
    gas_mains = _segments(tables, "RQ", excluded)
    for i, rec in enumerate(_pick(rng, gas_mains, 3), start=1):
        add(f"GP-{i:03d}", f"燃气中压管道压力{i}", "管网压力", "MPa", _seg_ref("RQ", rec), 300,
            "燃气物联网平台")
    water_mains = _segments(tables, "JS", excluded)
    chosen = _pick(rng, water_mains, 6)
    refs = [_seg_ref("JS", rec) for rec in chosen[:4]]
    if old_main is not None:  # the old cast-iron main (1985) under block RC-0324
        ids = sorted(old_main["pipes"]["管段编号"])
        refs[0] = f"old_water_main:JS:{ids[len(ids) // 2]}"
    for i, ref in enumerate(refs, start=1):
        add(f"WP-{i:03d}", f"供水管网压力监测点{i}", "02" if i == 4 else "管网压力", "MPa",
            ref, 300, "供水SCADA")
    for i, rec in enumerate(chosen[4:], start=1):
        add(f"WF-{i:03d}", f"供水管道流量计{i}", "流量", "m3/h", _seg_ref("JS", rec), 300,
            "供水SCADA", status="维修" if i == 2 else "运行")
    wells = _points(tables, "YS", excluded, {"窨井"}) + _points(tables, "WS", excluded)
    for i, rec in enumerate(_pick(rng, wells, 4), start=1):
        letters = rec["物探点号"][:2]
        add(f"LV-{i:03d}", f"检查井液位计{i}", "井下液位", "m", _point_ref(letters, rec), 300,
            "排水监测平台", status="停用" if i == 4 else "运行")
    for i, rec in enumerate(_pick(rng, other_covers, 4), start=1):
        add(f"MC-{i:03d}", f"智能井盖{i}", "井盖位移倾斜", "°",
            f"components_points:{rec['编号']}", 3600, "智能井盖平台")
    heat = _segments(tables, "RL", excluded)
    for i, rec in enumerate(_pick(rng, heat, 2), start=1):
        add(f"HT-{i:03d}", f"热力管道温度{i}", "温度", "℃", _seg_ref("RL", rec), 600,
            "热力监测平台")
    roads = _points(tables, "YS", excluded, {"雨水箅"})
    for i, rec in enumerate(_pick(rng, roads, 3), start=1):
        add(f"WL-{i:03d}", f"道路积水监测{i}", "积水深度", "m", "", "", "排水监测平台",
            x=f"{rec['X'] + 1.5:.3f}", y=f"{rec['Y'] - 1.0:.3f}")
    return rows


def make_bridge_sensors(cpts, rng) -> list[dict]:
    """Registry rows of the bridge's three sensors (deflection, strain, vibration), after every
    other row: the readings of the earlier sensors keep their draws."""
    bridge = [r for r in cpts.drop(columns="geometry").to_dict("records")
              if r["部件名称"] == "跨河桥"]
    ref = f"components_points:{bridge[0]['编号']}"
    rows = []
    for device, name, typ, unit in (("BD-001", "桥梁跨中挠度计1", "桥梁挠度", "mm"),
                                    ("BS-001", "桥梁跨中应变计1", "桥梁应变", "με"),
                                    ("BA-001", "桥面振动加速度计1", "09", "m/s2")):
        rows.append({"设备编号": device, "设备名称": name, "监测类型": typ, "计量单位": unit,
                     "监测对象编码": ref, "安装日期": _install(rng), "状态": "运行",
                     "上报周期(秒)": 600, "数据来源": "桥梁健康监测平台", "X": "", "Y": ""})
    return rows


# the heavy load on the bridge (16:40, 16:50 and back at 17:00): deflection mm, strain με,
# vibration m/s2 of the readings at those times
HEAVY_LOAD = {"BD-001": (33.6, 24.8), "BS-001": (268.0, 214.0), "BA-001": (0.42, 0.31)}


def _series(device: str, typ: str, n: int, step_min: int, rng) -> np.ndarray:
    """A day of values for one sensor (``n`` readings, ``step_min`` apart from 00:00)."""
    t = np.arange(n) * step_min / 60.0  # hours
    if typ in ("燃气浓度", "01"):
        v = np.abs(rng.normal(1.0, 0.5, n))
        if device == "GAS-001":  # the leak: 09:30 → peak ~62 at 10:30 → below 5 by 12:00
            up = (t >= 9.5) & (t < 10.5)
            v[up] = 1.0 + (t[up] - 9.5) * 61.0
            hold = (t >= 10.5) & (t < 11.0)
            v[hold] = 62.0 - (t[hold] - 10.5) * 10.0
            down = (t >= 11.0) & (t < 12.0)
            v[down] = 57.0 - (t[down] - 11.0) * 53.0
        return v
    if typ in ("管网压力", "02"):
        if device.startswith("GP"):
            return 0.30 + 0.01 * np.sin(t / 24 * 2 * np.pi) + rng.normal(0, 0.003, n)
        v = 0.35 - 0.03 * np.sin((t - 6) / 24 * 2 * np.pi) + rng.normal(0, 0.004, n)
        if device == "WP-001":  # a burst main: 14:00 → 0.12 by 14:20, back by 16:00
            drop = (t >= 14.0) & (t < 14 + 1 / 3)
            v[drop] = 0.35 - (t[drop] - 14.0) * 3 * 0.23
            low = (t >= 14 + 1 / 3) & (t < 15.5)
            v[low] = 0.12 + np.abs(rng.normal(0, 0.005, int(low.sum())))
            back = (t >= 15.5) & (t < 16.0)
            v[back] = 0.13 + (t[back] - 15.5) * 2 * 0.2
        return v
    if typ == "流量":
        return 120 + 60 * np.sin((t - 6) / 24 * 2 * np.pi) + rng.normal(0, 5, n)
    if typ == "井下液位":
        return 0.5 + 0.2 * np.sin(t / 24 * 2 * np.pi) + rng.normal(0, 0.02, n)
    if typ == "井盖位移倾斜":
        return np.abs(rng.normal(0.5, 0.2, n))
    if typ == "温度":
        return 28 + 3 * np.sin((t - 9) / 24 * 2 * np.pi) + rng.normal(0, 0.3, n)
    if typ == "积水深度":
        return np.abs(rng.normal(0.0, 0.004, n))
    if typ in ("桥梁挠度", "07", "桥梁应变", "08", "桥梁振动", "09"):
        traffic = np.clip(np.sin((t - 5) / 16 * np.pi), 0.0, None)  # 05:00-21:00
        base, load, noise = {"07": (6.0, 4.0, 0.8), "08": (120.0, 60.0, 8.0),
                             "09": (0.12, 0.1, 0.03)}[_BRIDGE_TYPE.get(typ, typ)]
        v = base + load * traffic + np.abs(rng.normal(0, noise, n))
        k = (16 * 60 + 40) // step_min  # 16:40
        v[k:k + 2] = HEAVY_LOAD[device]
        return v
    raise ValueError(f"no sample series for type {typ!r}")


_BRIDGE_TYPE = {"桥梁挠度": "07", "桥梁应变": "08", "桥梁振动": "09"}


def make_readings(sensors: list[dict], rng) -> list[tuple[str, str, str]]:
    """(设备编号, 监测时间, 监测值) rows of the day, in time order per sensor."""
    out = []
    start = dt.datetime.combine(DAY, dt.time(0, 0), TZ)
    for s in sensors:
        if s["状态"] == "停用":
            continue
        step_min = int(s["上报周期(秒)"] or 300) // 60
        n = 24 * 60 // step_min
        values = _series(s["设备编号"], s["监测类型"], n, step_min, rng)
        for k in range(n):
            at = start + dt.timedelta(minutes=k * step_min)
            if s["设备编号"] == "LV-003" and at.time() > SILENT_AFTER:
                break  # the silent sensor
            out.append((s["设备编号"], at.isoformat(), f"{max(values[k], 0.0):.3f}"))
    return out


def _csv_text(header: list[str], rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_sensors(sensors: list[dict], readings, out: Path) -> None:
    """``out/sensors/sensors.csv`` and ``readings_day.csv`` (UTF-8, ``\\n`` line ends)."""
    d = out / "sensors"
    d.mkdir(parents=True, exist_ok=True)
    (d / "sensors.csv").write_text(
        _csv_text(REGISTRY_HEADER, ([s[h] for h in REGISTRY_HEADER] for s in sensors)),
        encoding="utf-8")
    (d / "readings_day.csv").write_text(_csv_text(["设备编号", "监测时间", "监测值"], readings),
                                        encoding="utf-8")
