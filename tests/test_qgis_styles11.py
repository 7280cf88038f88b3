"""A layer a planner adds by hand (the database browser: the whole table, no subset) draws and
labels the current features only (review 11). Its default style (`cim styles apply`,
public.layer_styles) drew every version: a building's retired footprint under or beside the
current one, in its old use's colour, labelled as well. QGIS takes no filter from a style, so
the style's symbols and labels skip what is no longer current. Rendered by real QGIS."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.qgis_fixture import qgis_db, run_in_qgis, service_project

RENDER = r'''
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsExpressionContext, QgsExpressionContextUtils,
                       QgsFeatureRequest, QgsMapRendererParallelJob, QgsMapSettings,
                       QgsPalLayerSettings, QgsRectangle, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False)
app.initQgis()
spec = json.loads(sys.argv[1])
lyr = QgsVectorLayer(f"service='{spec['service']}' key='id' type=MultiPolygon "
                     'table="public"."buildings" (geom)', "buildings", "postgres")
out = {"valid": lyr.isValid(), "count": lyr.featureCount(), "labels": lyr.labelsEnabled(),
       "renderer": lyr.renderer().type(), "pixels": []}
for x, y in spec["points"]:
    ms = QgsMapSettings()
    ms.setLayers([lyr])
    ms.setDestinationCrs(lyr.crs())
    ms.setBackgroundColor(QColor(255, 255, 255))
    ms.setOutputSize(QSize(41, 41))
    ms.setExtent(QgsRectangle(x - 2, y - 2, x + 2, y + 2))
    job = QgsMapRendererParallelJob(ms)
    job.start()
    job.waitForFinished()
    out["pixels"].append(job.renderedImage().pixel(20, 20) & 0xFFFFFF)
# the labels' "Show" as QGIS evaluates it for each picked feature
settings = QgsPalLayerSettings(lyr.labeling().settings())
show = settings.dataDefinedProperties().property(QgsPalLayerSettings.Show)
ctx = QgsExpressionContext()
ctx.appendScope(QgsExpressionContextUtils.layerScope(lyr))
out["label_shown"] = []
for fid in spec["ids"]:
    f = next(lyr.getFeatures(QgsFeatureRequest().setFilterExpression(f'"id" = {fid}')))
    ctx.setFeature(f)
    out["label_shown"].append(show.valueAsBool(ctx, True)[0])
print(json.dumps(out))
app.exitQgis()
'''


@pytest.fixture(scope="module")
def bdb(jining_profile):
    with qgis_db(jining_profile, "qgisstyles11", buildings=True) as d:
        yield d


def test_a_layer_added_by_hand_draws_current_features_only(bdb, tmp_path):
    # three buildings retired (valid_to set: a replace load that no longer delivers them),
    # three left current; a point inside each, apart from every other footprint
    picks = bdb.rows(
        "SELECT b.id, ST_X(p), ST_Y(p) FROM (SELECT id, ST_PointOnSurface(geom) p FROM buildings"
        " ORDER BY id LIMIT 40) b WHERE NOT EXISTS (SELECT FROM buildings o WHERE o.id <> b.id"
        " AND ST_DWithin(o.geom, b.p, 3)) LIMIT 6")
    assert len(picks) == 6
    retired = [r[0] for r in picks[:3]]
    bdb.rows("UPDATE buildings SET valid_to = now() WHERE id = ANY(%s) RETURNING id",
             (retired,))
    run_cli(["styles", "apply"], bdb.env(), check=True)
    _, service = service_project(bdb, tmp_path, "cimhand11")
    spec = {"service": "cimhand11", "points": [[x, y] for _, x, y in picks],
            "ids": [i for i, _, _ in picks]}
    got = run_in_qgis(RENDER, json.dumps(spec), service_file=service)
    assert got["valid"] and got["renderer"] == "categorizedSymbol" and got["labels"], got
    white = 0xFFFFFF
    assert got["pixels"][:3] == [white] * 3, [hex(p) for p in got["pixels"]]  # retired
    assert all(p != white for p in got["pixels"][3:]), [hex(p) for p in got["pixels"]]
    assert got["label_shown"] == [False] * 3 + [True] * 3, got["label_shown"]


DRAWN = r'''
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsExpression, QgsExpressionContext,
                       QgsExpressionContextUtils, QgsSymbolLayer, QgsVectorLayer)
app = QgsApplication([], False)
app.initQgis()
lyr = QgsVectorLayer(f"service='{sys.argv[1]}' key='id' type=Point "
                     'table="public"."alarms" (geom)', "alarms", "postgres")
cats = lyr.renderer().categories()
sym = cats[0].symbol()
sl = sym.symbolLayer(0)
props = sl.dataDefinedProperties()
enabled = QgsExpression(props.property(QgsSymbolLayer.PropertyLayerEnabled).expressionString())
ctx = QgsExpressionContext()
ctx.appendScope(QgsExpressionContextUtils.layerScope(lyr))
drawn = []
for f in lyr.getFeatures():
    ctx.setFeature(f)
    if enabled.evaluate(ctx):
        drawn.append(f["code"])
print(json.dumps({"valid": lyr.isValid(), "features": lyr.featureCount(), "drawn": drawn}))
app.exitQgis()
'''


@pytest.fixture(scope="module")
def adb(jining_profile):
    from tests.conftest import load_network_samples, load_sensor_samples, replay_sample_day

    with qgis_db(jining_profile, "qgisalarms11") as d:
        load_network_samples(d, jining_profile)
        load_sensor_samples(d, jining_profile)
        replay_sample_day(d, jining_profile)
        yield d


def test_alarms_added_by_hand_draw_the_active_ones_as_the_one_map(adb, tmp_path):
    """Every alarm ever raised was drawn in its level's colour; the one map shows the active
    ones (layers.catalog.map_where)."""
    run_cli(["styles", "apply"], adb.env(), check=True)
    _, service = service_project(adb, tmp_path, "cimalarm11")
    got = run_in_qgis(DRAWN, "cimalarm11", service_file=service)
    active = sorted(r[0] for r in adb.rows(
        "SELECT code FROM alarms WHERE valid_to IS NULL AND status = 'active'"))
    assert got["valid"] and active and got["features"] > len(active), got
    assert sorted(got["drawn"]) == active, got
