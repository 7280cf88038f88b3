"""Deterministic generator of the committed Jining (济宁) sample data set.

Writes a small, realistic sample area around 太白湖新区 (Jining, Shandong), in the
city's storage CRS EPSG:4527 (CGCS2000 / 3-degree Gauss-Kruger zone 39, zone-prefixed
eastings):

* ``profile.yaml``                 city profile (districts, storage CRS, file locations)
* ``boundaries.gpkg``              layer ``districts``: two SYNTHETIC district polygons
* ``grid_cells.gpkg``              layer ``grid_cells``: ~500 m unit grid cells (15-digit codes)
* ``buildings/buildings_survey.*`` a building survey shapefile with a GBK ``.dbf``, Chinese
                                   field names and no ``.cpg`` (as surveyors deliver it)
* ``pipes/``                       an underground pipe survey (管线点/管线段成果表) of seven
                                   classes as an Excel workbook and GBK / UTF-8-BOM CSVs, with
                                   15 deliberate survey errors
* ``components/components_*.shp``  a city-management component census (城市部件普查): points,
                                   lines, polygons, GBK ``.dbf`` without ``.cpg``

Run it with ``python -m data_samples.generate`` (see ``__main__``). Everything is generated
from seeded ``numpy.random.default_rng`` generators, and the DBF "last update" date, the
GeoPackage timestamps and the xlsx zip dates are pinned, so running the generator twice gives
byte-identical files.

Modules, in the order the sample set is built:

* ``frame``        the sample area, storage CRS, seed and pinned date every part shares
* ``files``        writers' helpers that keep the output byte-identical (GDAL date, xlsx zip,
                   GBK shapefiles without ``.cpg``)
* ``districts``    the two synthetic districts, the unit grid and the city profile
* ``vocabulary``   the building survey's fields, uses, structures and fictitious names
* ``blocks``, ``attributes``, ``buildings``   the building survey: block layouts, attributes,
                   the street grid and the deliberate imperfections
* ``pipes``        the pipe survey (network, tables, seeded errors, workbook and CSV writers)
* ``components``   the component census
* ``sample_set``   writes all of it; ``verify`` reads it back and checks it
* ``large_buildings``  any number of synthetic footprints for benchmarks and load tests
* ``large_pipes``, ``large_components``  a large 3D pipe network (GIS layers with valves)
                   and component census in the same streets, for bench/query.py

Importing the package has no side effects; tests and benchmarks call
:func:`write_buildings_gpkg` directly (``from data_samples.generate import write_buildings_gpkg``).
"""

from data_samples.generate.frame import SAMPLE_DIR, SAMPLE_SEED, STORAGE_CRS
from data_samples.generate.large_buildings import make_buildings_chunk, write_buildings_gpkg
from data_samples.generate.sample_set import generate_sample_set
from data_samples.generate.verify import verify_sample_set
from data_samples.generate.vocabulary import BUILDING_FIELDS, BUILDING_USES, STRUCTURES

__all__ = [
    "BUILDING_FIELDS",
    "BUILDING_USES",
    "SAMPLE_DIR",
    "SAMPLE_SEED",
    "STRUCTURES",
    "STORAGE_CRS",
    "generate_sample_set",
    "verify_sample_set",
    "write_buildings_gpkg",
    "make_buildings_chunk",
]
