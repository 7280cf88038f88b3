"""QGIS and the web map draw each feature in the same colour: QGIS (real, headless: the QML
of ``layers.styles.qml`` rendered on memory layers) against the MapLibre style of
``layers.styles.maplibre`` evaluated here, per layer for every class value, a value no
category lists and NULL, the building height classes and graduated values on and around the
breaks. A categorized layer's feature of no listed class (a parcel without a land use: the
planning loader keeps it with land_use_code NULL) was hidden in QGIS while the web map drew it
grey; both now draw it grey (QGIS's "all other values" category).

QGIS's python is the system python3: the render runs there in a subprocess (the script below),
and the test skips when QGIS cannot be imported."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import shapely
import yaml

from cim.config import DEFAULT_PROFILE
from cim.layerdefs import LAYERS
from cim.profile import DICTIONARY_DIR, load_profile
from layers.catalog import result_layers
from layers.styles import load_styles
from layers.styles.expr import qgis_filter
from layers.styles.maplibre import maplibre_style
from layers.styles.qml import qml
from tests.test_qgis_project import SYSTEM_PYTHON, qgis_missing

RENDER = r'''
"""System python3 (QGIS): render memory layers styled by QML, report the pixel colour at each
feature's sample point. argv[1]: JSON spec path; prints JSON."""
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsFeature, QgsField,  # noqa
                       QgsGeometry, QgsMapRendererSequentialJob, QgsMapSettings, QgsPointXY,
                       QgsRectangle, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize, QVariant  # noqa
from qgis.PyQt.QtGui import QColor  # noqa
from qgis.PyQt.QtXml import QDomDocument  # noqa

TYPES = {"text": QVariant.String, "float8": QVariant.Double, "int4": QVariant.Int,
         "int2": QVariant.Int}


def main():
    spec = json.load(open(sys.argv[1]))
    app = QgsApplication([], False)
    app.initQgis()
    out = {}
    for lay in spec["layers"]:
        gtype = {"point": "Point", "line": "LineString", "fill": "Polygon"}[lay["kind"]]
        vl = QgsVectorLayer(f"{gtype}?crs=EPSG:4527", lay["name"], "memory")
        pr = vl.dataProvider()
        pr.addAttributes([QgsField(k, TYPES[t]) for k, t in lay["fields"].items()])
        vl.updateFields()
        feats = []
        for f in lay["features"]:
            qf = QgsFeature(vl.fields())
            qf.setGeometry(QgsGeometry.fromWkt(f["wkt"]))
            for k, v in f["attrs"].items():
                qf[k] = v
            feats.append(qf)
        pr.addFeatures(feats)
        doc = QDomDocument()
        ok = doc.setContent(lay["qml"])
        msg = vl.importNamedStyle(doc)
        if lay.get("subset"):
            vl.setSubsetString(lay["subset"])
        ms = QgsMapSettings()
        ms.setLayers([vl])
        ms.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4527"))
        ms.setBackgroundColor(QColor(255, 255, 255))
        ms.setOutputSize(QSize(1000, 1000))
        ms.setOutputDpi(300)
        ms.setFlag(QgsMapSettings.DrawLabeling, False)
        ms.setExtent(QgsRectangle(*lay["extent"]))
        job = QgsMapRendererSequentialJob(ms)
        job.start()
        job.waitForFinished()
        img = job.renderedImage()
        m2p = ms.mapToPixel()
        px = []
        for f in lay["features"]:
            p = m2p.transform(QgsPointXY(*f["sample"]))
            c = QColor(img.pixel(int(p.x()), int(p.y())))
            px.append([c.red(), c.green(), c.blue()])
        out[lay["name"] + "|" + lay["kind"]] = {"ok": ok, "import": str(msg), "scale": ms.scale(),
                                               "pixels": px,
                                               "renderer": vl.renderer().type() if vl.renderer() else None,
                                               "count": vl.featureCount()}
    print(json.dumps(out))
    app.exitQgis()


main()
'''


DEFS = {**LAYERS, **{d.name: d for d in result_layers()}}
X0, Y0 = 39465000.0, 3914000.0


def ev(e, props, gtype):
    if not isinstance(e, list):
        return e
    op, a = e[0], e[1:]
    if op == "get":
        return props.get(a[0])
    if op == "literal":
        return a[0]
    if op == "to-string":
        v = ev(a[0], props, gtype)
        if v is None:
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)
    if op == "to-number":
        v = ev(a[0], props, gtype)
        if v is None:
            return 0
        return float(v)
    if op == "coalesce":
        for x in a:
            v = ev(x, props, gtype)
            if v is not None:
                return v
        return None
    if op == "match":
        v = ev(a[0], props, gtype)
        rest = a[1:]
        for lab, out in zip(rest[:-1:2], rest[1:-1:2]):
            labs = lab if isinstance(lab, list) else [lab]
            if v in labs and type(v) is type(labs[0]):
                return ev(out, props, gtype)
        return ev(rest[-1], props, gtype)
    if op == "case":
        for c, out in zip(a[:-1:2], a[1:-1:2]):
            if ev(c, props, gtype):
                return ev(out, props, gtype)
        return ev(a[-1], props, gtype)
    if op == "step":
        v = ev(a[0], props, gtype)
        out = ev(a[1], props, gtype)
        for stop, o in zip(a[2::2], a[3::2]):
            if v >= stop:
                out = ev(o, props, gtype)
        return out
    if op == "in":
        n, h = ev(a[0], props, gtype), ev(a[1], props, gtype)
        return any(n == x and type(n) is type(x) for x in h)
    if op == "all":
        return all(ev(x, props, gtype) for x in a)
    if op == "any":
        return any(ev(x, props, gtype) for x in a)
    if op == "!":
        return not ev(a[0], props, gtype)
    if op == "typeof":
        v = ev(a[0], props, gtype)
        return ("null" if v is None else "boolean" if isinstance(v, bool) else
                "number" if isinstance(v, (int, float)) else "string")
    if op == "geometry-type":
        return gtype
    if op in ("==", "!=", "<", "<=", ">", ">="):
        x, y = ev(a[0], props, gtype), ev(a[1], props, gtype)
        return {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y,
                ">=": x >= y}[op]
    raise NotImplementedError(op)


def rgba(c):
    if c.startswith("#"):
        h = c[1:]
        r, g, b = int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
        a = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return r, g, b, a
    m = re.match(r"rgba\((\d+),(\d+),(\d+),([\d.]+)\)", c.replace(" ", ""))
    return int(m[1]), int(m[2]), int(m[3]), float(m[4])


def expected(style, layer, kind, props):
    gtype = {"fill": "Polygon", "line": "LineString", "point": "Point"}[kind]
    want = {"fill": "fill", "line": "line", "point": "circle"}[kind]
    out = [255.0, 255.0, 255.0]
    for sl in style["layers"]:
        shape = sl["type"] == "symbol" and "cim:shape" in sl.get("metadata", {})
        if sl.get("source-layer") != layer or (sl["type"] != want and not
                                               (kind == "point" and shape)):
            continue
        if kind == "fill" and sl["id"].endswith("-outline"):
            continue
        if "filter" in sl and not ev(sl["filter"], props, gtype):
            continue
        p = sl["paint"]
        paint = "text" if shape else want  # a marker's shape: a glyph in its fill colour
        col = ev(p[f"{paint}-color"], props, gtype)
        op = ev(p.get(f"{paint}-opacity", 1), props, gtype)
        r, g, b, a = rgba(col)
        a *= op
        out = [o * (1 - a) + c * a for o, c in zip(out, (r, g, b))]
    return [round(v) for v in out]


def values_of(st, field):
    vals = [c.value for c in st.categories] if st.field == field else []
    if st.color_by and st.color_by[0] == field:
        vals = [c.value for c in st.color_by[1]][:3]
    return vals


def props_list(st):
    """Attribute sets covering the style's classes, an unknown value and NULL."""
    out = []
    if st.renderer == "categorized":
        for v in [c.value for c in st.categories] + ["ZZ", None]:
            out.append({st.field: v})
        if st.height_classes:
            for h in (None, 0.0, 5.0, 10.0, 23.9, 24.0, 30.0, 100.0, 150.0):
                out.append({st.field: st.categories[0].value, st.height_field: h})
    elif st.renderer == "rule-based":
        rule_vals = []
        for r in st.rules:
            if r.filter and r.filter.values:
                rule_vals.append((r.filter.field, r.filter.values[0]))
                rule_vals.append((r.filter.field, r.filter.values[-1]))
        fld = next(f for f, _ in rule_vals)
        classes = values_of(st, st.color_by[0]) + ["ZZ", None] if st.color_by else [None]
        for c in classes:
            for v in [v for _, v in rule_vals] + ["其它zz", None]:
                p = {fld: v}
                if st.color_by:
                    p[st.color_by[0]] = c
                out.append(p)
    elif st.renderer == "graduated":
        wf = st.where
        for v in (None, -1.0, 0.0, 30.0, 59.9, 60.0, 60.1, 100.0, 100.5):
            p = {st.field: v}
            if wf:
                p[wf.field] = wf.values[0]
            out.append(p)
        if wf:
            out.append({st.field: 75.0, wf.field: "other_indicator"})
    else:
        out.append({})
    return out


def pgtype(layer, f):
    cols = {c.name: c.pgtype for c in DEFS[layer].columns}
    t = cols.get(f, "float8" if f == "score" else "text")
    return t if t in ("text", "float8", "int4", "int2") else "text"


def build(profile):
    styles = load_styles(profile)
    style = maplibre_style("http://x", profile)
    specs, exp = [], {}
    split = {n for g in styles.tree if g.split for n in g.split.layers}
    for name, st in styles.layers.items():
        kinds = ("point", "line", "fill") if st.kind == "mixed" else (st.kind,)
        plist = props_list(st)
        if name in split:  # drawn per class on both maps: the classes only
            plist = [p for p in plist if p.get(st.field, "x") not in ("ZZ", None)]
        fields = {}
        for p in plist:
            for k in p:
                fields[k] = pgtype(name, k)
        for kind in kinds:
            feats = []
            for i, p in enumerate(plist):
                x, y = X0 + (i % 10) * 70, Y0 - (i // 10) * 70
                if kind == "fill":
                    g, s = shapely.box(x, y, x + 40, y + 40), (x + 20, y + 20)
                elif kind == "line":
                    g, s = shapely.LineString([(x, y), (x + 40, y)]), (x + 20, y)
                else:
                    g, s = shapely.Point(x + 20, y + 20), (x + 20, y + 20)
                pp = {k: (int(v) if fields[k].startswith("int") and v not in (None, "ZZ")
                          else v) for k, v in p.items()}
                if any(fields[k].startswith(("int", "float")) and v == "ZZ"
                       for k, v in pp.items()):
                    pp = {k: (99 if v == "ZZ" else v) for k, v in pp.items()}
                feats.append({"wkt": g.wkt, "sample": list(s), "attrs": pp})
                exp[(name, kind, i)] = expected(style, name, kind, pp)
            n = len(plist)
            rows = (n + 9) // 10
            specs.append({"name": name, "kind": kind, "fields": fields,
                          "qml": qml(name, profile, geometry=kind, styles=styles),
                          "subset": qgis_filter(st.where) if st.where else "",
                          "features": feats,
                          "extent": [X0 - 60, Y0 - rows * 70 - 60, X0 + 760, Y0 + 110]})
    return specs, exp


def _disagreements(profile, tmp_path) -> list:
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    specs, exp = build(profile)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"layers": specs}))
    (tmp_path / "render.py").write_text(RENDER)
    proc = subprocess.run([SYSTEM_PYTHON, str(tmp_path / "render.py"), str(path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    bad = []
    for spec in specs:
        res = got[spec["name"] + "|" + spec["kind"]]
        assert res["scale"] < 10000, res["scale"]
        for i, (f, px) in enumerate(zip(spec["features"], res["pixels"])):
            e = exp[(spec["name"], spec["kind"], i)]
            if max(abs(a - b) for a, b in zip(e, px)) > 4:
                bad.append((spec["name"], spec["kind"], f["attrs"], "maplibre", e, "qgis", px))
    return bad


def test_qgis_and_the_web_map_draw_the_same_colours(jining_profile, tmp_path):
    bad = _disagreements(jining_profile, tmp_path)
    assert not bad, bad[:10]


def city_profile(tmp_path):
    """The Jining profile with a styles file of its own: a single fill without a fill colour
    (the web style raised AttributeError), a categorized layer drawn hollow with class-coloured
    outlines (symbol fill 0,0,0,0: the web map filled it), a fill colour with fill_opacity
    (QGIS ignored the opacity), a categorized line with one colour (the web map took the
    classes')."""
    raw = yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))
    lay = raw["layers"]
    lay["admin_divisions"]["symbol"] = {"outline": "120,40,140", "outline_width": 0.8}
    lay["control_lines"]["symbol"] = {**lay["control_lines"]["symbol"], "fill": "0,0,0,0"}
    lay["planning_parcels"]["symbol"] = {**lay["planning_parcels"]["symbol"],
                                         "fill": "200,100,50"}
    lay["roads"]["symbol"] = {**lay["roads"]["symbol"], "color": "10,20,30"}
    (tmp_path / "styles.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True),
                                          encoding="utf-8")
    base = load_profile(DEFAULT_PROFILE)
    prof = yaml.safe_load(base.path.read_text(encoding="utf-8"))
    prof.update(boundaries=str(base.boundaries), grid=str(base.grid),
                dictionaries={"styles": str(tmp_path / "styles.yaml")})
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(prof, allow_unicode=True),
                                           encoding="utf-8")
    return load_profile(tmp_path / "profile.yaml")


def test_a_citys_own_symbols_draw_the_same(tmp_path):
    bad = _disagreements(city_profile(tmp_path), tmp_path)
    assert not bad, bad[:10]
