"""What the risk tests build by hand: a gas main the platform's rules make a risk point."""

from __future__ import annotations

import psycopg
import shapely
import shapely.affinity
from shapely.geometry import LineString

X0, Y0 = 39_462_000.0, 3_915_000.0  # in 任城区 (EPSG:4527)


def insert_gas_main(conn: psycopg.Connection, code: str = "G1", dx: float = 0.0,
                    length: float = 100.0) -> None:
    """A 灰口铸铁 (ZT) gas main of 1980, in service, ``length`` m east from (X0 + dx, Y0) at
    30 m: base 1 + material 3 + age 2 = 6, likelihood 5 under the platform's rules."""
    line = shapely.affinity.translate(LineString([(0, 0), (length, 0)]), X0 + dx, Y0)
    conn.execute(
        "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
        "feature_code, start_point_code, end_point_code, material_code, year_built, "
        "status_code, geom) VALUES (%s, '03', '燃气', '01', '53000000', 'a', 'b', 'ZT', "
        "1980, '0', ST_GeomFromWKB(%s, 4527))",
        (code, shapely.to_wkb(shapely.force_3d(line, 30.0))))
