"""Write the whole Jining sample set: profile, districts, grid, buildings, pipes, components.

One seed drives four independent random streams (districts, buildings, pipes, components),
so adding a later stream never changed the files of an earlier one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
from shapely.geometry import MultiPolygon

from data_samples.generate.buildings import make_buildings, write_survey_shapefile
from data_samples.generate.city_base import make_city_base, write_city_base
from data_samples.generate.components import make_component_census, write_component_census
from data_samples.generate.districts import PROFILE_YAML, make_districts, make_grid_cells
from data_samples.generate.files import pinned_gdal_date, remove_dataset
from data_samples.generate.frame import DISTRICTS, SAMPLE_SEED, STORAGE_CRS, area_frame
from data_samples.generate.old_main import make_old_main, write_old_main
from data_samples.generate.pipes import PIPE_CLASSES, make_pipe_survey, write_pipe_survey
from data_samples.generate.planning import make_planning, write_planning
from data_samples.generate.sensors import (
    make_bridge_sensors,
    make_readings,
    make_sensors,
    write_sensors,
)


def generate_sample_set(out_dir: Path, seed: int = SAMPLE_SEED, verbose: bool = True) -> dict:
    """Write the whole Jining sample set into ``out_dir``; returns a summary dict."""
    import geopandas as gpd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # the first two streams are those of the original sample set (byte-stable outputs); the
    # pipe survey and the component census draw from streams of their own
    rng_d, rng_b, rng_p, rng_c = (np.random.default_rng(s)
                                  for s in np.random.SeedSequence(seed).spawn(4))
    frame = area_frame()

    north, south, _ = make_districts(frame, rng_d)
    districts = [(DISTRICTS[0][0], DISTRICTS[0][1], north), (DISTRICTS[1][0], DISTRICTS[1][1], south)]

    (out / "profile.yaml").write_text(PROFILE_YAML, encoding="utf-8")

    with pinned_gdal_date():
        bnd = gpd.GeoDataFrame(
            {"code": [d[0] for d in districts], "name": [d[1] for d in districts]},
            geometry=[MultiPolygon([d[2]]) for d in districts], crs=STORAGE_CRS,
        )
        remove_dataset(out / "boundaries.gpkg")
        pyogrio.write_dataframe(bnd, out / "boundaries.gpkg", layer="districts", driver="GPKG",
                                geometry_type="MultiPolygon")

        cells = make_grid_cells(districts)
        grid = gpd.GeoDataFrame(cells, geometry="geometry", crs=STORAGE_CRS)
        grid["geometry"] = [g if g.geom_type == "MultiPolygon" else MultiPolygon([g]) for g in grid.geometry]
        remove_dataset(out / "grid_cells.gpkg")
        pyogrio.write_dataframe(grid, out / "grid_cells.gpkg", layer="grid_cells", driver="GPKG",
                                geometry_type="MultiPolygon")

    streets = {}
    bld, imperfections = make_buildings(frame, districts, rng_b, streets=streets)
    write_survey_shapefile(bld, out / "buildings" / "buildings_survey.shp")

    tables, seeded, pipe_points = make_pipe_survey(streets, rng_p)
    write_pipe_survey(tables, out / "pipes")
    cpts, clines, cpolys, cnotes = make_component_census(frame, districts, streets, pipe_points,
                                                         rng_c)
    write_component_census(cpts, clines, cpolys, out / "components")
    # the planning controls (issue 11) draw from a fifth stream: the four above keep their bytes
    rng_pl = np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[4])
    planning = make_planning(frame, districts, streets, bld, rng_pl)
    write_planning(planning, out)
    # the city base layers (issue 13) draw from a sixth stream: the files above keep their bytes
    rng_cb = np.random.default_rng(np.random.SeedSequence(seed).spawn(6)[5])
    base = make_city_base(districts, cells, bld, planning, rng_cb)
    write_city_base(base, out)
    # a second pipe delivery, an old water main under block RC-0324 (issue 11 item 5), draws
    # from a seventh stream: the files above keep their bytes
    rng_om = np.random.default_rng(np.random.SeedSequence(seed).spawn(7)[6])
    old_main = make_old_main(planning["parcels"], rng_om)
    write_old_main(old_main, out)
    # the sensor registry and a day of readings (issue 14) draw from an eighth stream: the
    # files above keep their bytes
    rng_s = np.random.default_rng(np.random.SeedSequence(seed).spawn(8)[7])
    sensors = make_sensors(tables, seeded, cpts, cnotes, rng_s, old_main)
    # the bridge's sensors come last, installed on dates of a ninth stream: the rows and
    # readings of the sensors above keep their bytes
    rng_br = np.random.default_rng(np.random.SeedSequence(seed).spawn(9)[8])
    sensors += make_bridge_sensors(cpts, rng_br)
    readings = make_readings(sensors, rng_s)
    write_sensors(sensors, readings, out)

    summary = {"frame": frame, "n_cells": len(grid), "n_buildings": len(bld), "imperfections": imperfections,
               "pipes": {k: (len(p), len(sg)) for k, (p, sg) in tables.items()},
               "pipe_errors": seeded, "components": (len(cpts), len(clines), len(cpolys)),
               "component_imperfections": cnotes,
               "planning": {k: len(v) for k, v in planning.items()},
               "city_base": {k: len(v) for k, v in base.items()},
               "sensors": (len(sensors), len(readings))}
    if verbose:
        print(f"wrote sample set to {out}")
        print(f"  area frame (EPSG:4527): {frame}")
        print(f"  grid cells: {len(grid)}  buildings: {len(bld)}")
        print(f"  bow-tie footprints: {imperfections['bowtie']}")
        print(f"  NULL 建筑高度: {imperfections['null_height']}")
        for k, (p_, s_) in tables.items():
            print(f"  pipes {k} {PIPE_CLASSES[k]['name']}: {len(p_)} points, {len(s_)} segments")
        for rule, letters, ids in seeded:
            print(f"  seeded survey error {rule:<26} {PIPE_CLASSES[letters]['name']}  {' '.join(ids)}")
        print(f"  components: {len(cpts)} points, {len(clines)} lines, {len(cpolys)} polygons; "
              f"{cnotes}")
        print("  planning: " + ", ".join(f"{len(v)} {k}" for k, v in planning.items()))
        print("  city base: " + ", ".join(f"{len(v)} {k}" for k, v in base.items()))
        print(f"  sensors: {len(sensors)}, readings of {readings[0][1][:10]}: {len(readings)}")
    return summary
