"""File helpers that make the writers' output byte-identical from run to run.

GDAL stamps the current date into GeoPackages and openpyxl stamps the save time into the
xlsx zip; both are pinned here. Shapefiles are written the way surveyors deliver them
(GBK ``.dbf``, no ``.cpg``), which the building survey and the component census share.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pyogrio

from data_samples.generate.frame import PINNED_DATE


@contextlib.contextmanager
def pinned_gdal_date() -> Iterator[None]:
    """Pin the timestamps GDAL writes into GeoPackages (byte-identical reruns)."""
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_DATE + "T00:00:00.000Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def remove_dataset(path: Path) -> None:
    """Remove a file (and, for a shapefile, its sidecars) if present."""
    path = Path(path)
    if path.suffix.lower() == ".shp":
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml"):
            p = path.with_suffix(ext)
            if p.exists():
                p.unlink()
    else:
        for p in (path, Path(str(path) + "-journal"), Path(str(path) + "-wal"),
                  Path(str(path) + "-shm")):
            if p.exists():
                p.unlink()


def stable_zip(path: Path) -> None:
    """Rewrite a zip (xlsx) with fixed entry timestamps, so reruns give identical bytes."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":  # openpyxl stamps the save time here
                import re

                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + PINNED_DATE.encode()
                              + b"T00:00:00Z", data)
            info = zipfile.ZipInfo(name, date_time=(2024, 6, 30, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def write_gbk_shapefile(gdf, path: Path, geometry_type: str) -> None:
    """Write a shapefile as surveyors deliver it: GBK ``.dbf``, pinned DBF date, no ``.cpg``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dataset(path)
    pyogrio.write_dataframe(
        gdf, path, driver="ESRI Shapefile", encoding="GBK", geometry_type=geometry_type,
        layer_options={"DBF_DATE_LAST_UPDATE": PINNED_DATE, "RESIZE": "YES"},
    )
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        cpg.unlink()
