"""Run by the system python3 (QGIS's python, not the venv) from tests/test_qgis_project.py:
open the one-map project with real QGIS, headless, and report what QGIS sees as JSON.

usage: qgis_check.py PROJECT OUT_DIR ZOOM_BOX TABLES_JSON
  PROJECT    a .qgs path (the project saved in the database is opened too, by its URI)
  ZOOM_BOX   xmin,ymin,xmax,ymax of a close-up render (storage CRS)
  TABLES     JSON {table: wkbType} for layers added by hand (their default style)
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def render(project, extent, path):
    """Render the project's visible layers into a PNG; return the image."""
    ms = QgsMapSettings()
    ms.setLayers(project.layerTreeRoot().layerOrder())
    ms.setDestinationCrs(project.crs())
    ms.setBackgroundColor(QColor(255, 255, 255))
    ms.setOutputSize(QSize(800, 800))
    ms.setExtent(extent)
    job = QgsMapRendererParallelJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    img.save(path)
    return img, ms.scale()


def pixels(img):
    """(non-white pixels, {rgb: count}) of an image."""
    counts = {}
    for y in range(0, img.height()):
        for x in range(0, img.width()):
            c = img.pixel(x, y) & 0xFFFFFF
            if c != 0xFFFFFF:
                counts[c] = counts.get(c, 0) + 1
    return sum(counts.values()), counts


def layer_info(project, lyr):
    node = project.layerTreeRoot().findLayer(lyr.id())
    path = []
    parent = node.parent()
    while parent is not None and parent.name():
        path.insert(0, parent.name())
        parent = parent.parent()
    r = lyr.renderer()
    info = {"id": lyr.id(), "name": lyr.name(), "valid": lyr.isValid(), "path": path,
            "table": lyr.dataProvider().uri().table() if lyr.isValid() else None,
            "source": lyr.source(), "crs": lyr.crs().authid(),
            "count": sum(1 for _ in lyr.getFeatures()) if lyr.isValid() else None,
            "renderer": r.type() if r else None,
            "min_scale": lyr.minimumScale() if lyr.hasScaleBasedVisibility() else None}
    if r is not None and r.type() == "categorizedSymbol":
        info["attr"] = r.classAttribute()
        info["colors"] = {c.value(): c.symbol().color().name() for c in r.categories()}
    if r is not None and r.type() == "graduatedSymbol":
        info["attr"] = r.classAttribute()
        info["ranges"] = [[g.lowerValue(), g.upperValue(), g.symbol().color().name()]
                          for g in r.ranges()]
    return info


def main():
    qgs, out, zoom, tables = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    app = QgsApplication([], False)
    app.initQgis()
    result = {}
    project = QgsProject.instance()
    result["read"] = project.read(qgs)
    result["crs"] = project.crs().authid()
    layers = list(project.mapLayers().values())
    result["layers"] = [layer_info(project, lyr) for lyr in layers]
    extent = QgsRectangle()
    for lyr in layers:
        if lyr.isValid():
            extent.combineExtentWith(lyr.extent())
    img, scale = render(project, extent, os.path.join(out, "onemap.png"))
    result["full"] = {"scale": scale, "nonwhite": pixels(img)[0]}
    x0, y0, x1, y1 = (float(v) for v in zoom.split(","))
    img, scale = render(project, QgsRectangle(x0, y0, x1, y1), os.path.join(out, "zoom.png"))
    n, counts = pixels(img)
    result["zoom"] = {"scale": scale, "nonwhite": n,
                      "colors": {f"#{c:06x}": k for c, k in counts.items() if k >= 20}}
    # a layer added by hand gets its default style from public.layer_styles
    result["by_hand"] = {}
    for table, wkb in tables.items():
        uri = (f"service='{os.environ.get('CIM_QGIS_SERVICE', 'cim')}' key='id' type={wkb} "
               f"table=\"public\".\"{table}\" (geom)")
        lyr = QgsVectorLayer(uri, table, "postgres")
        r = lyr.renderer()
        result["by_hand"][table] = {"valid": lyr.isValid(), "renderer": r.type() if r else None,
                                    "attr": r.classAttribute()
                                    if r and r.type() == "categorizedSymbol" else None}
    # the copy saved in the database
    db_uri = sys.argv[5] if len(sys.argv) > 5 else None
    if db_uri:
        project.clear()
        result["db_read"] = project.read(db_uri)
        result["db_layers"] = [lyr.isValid() for lyr in project.mapLayers().values()]
    print(json.dumps(result, ensure_ascii=False))
    app.exitQgis()


if __name__ == "__main__":
    main()
