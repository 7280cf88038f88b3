"""What the risk tests build by hand: pipes written straight into the tables (a gas main the
platform's rules make a risk point among them), and a rules file of one gas-pipe rule whose
scores each test gives, so that its expected grades stand beside them."""

from __future__ import annotations

from typing import Any

import psycopg
import shapely
import shapely.affinity
import yaml
from psycopg import sql
from shapely.geometry import LineString

X0, Y0 = 39_462_000.0, 3_915_000.0  # in 任城区 (EPSG:4527)
# pipe class → its name and feature code (pipe_classes.csv)
CLASSES = {"02": ("排水", "52000000"), "03": ("燃气", "53000000"), "04": ("热力", "54000000")}


def insert_pipe(conn: psycopg.Connection, code: str, line: LineString, *,
                pipe_class: str = "03", subclass: str = "01", z: float = 30.0,
                **columns: Any) -> None:
    """A pipe segment ``code`` along ``line`` (storage metres, EPSG:4527) at height ``z``, its
    end points named code + a and code + b unless ``columns`` names them; ``columns`` are the
    segment's other fields (material_code, year_built, pressure, status_code, owner, …), left
    NULL when not given — what a rule reads as unknown."""
    name, feature = CLASSES[pipe_class]
    values = {"code": code, "pipe_class": pipe_class, "class_name": name,
              "subclass_code": subclass, "feature_code": feature,
              "start_point_code": code + "a", "end_point_code": code + "b", **columns}
    conn.execute(
        sql.SQL("INSERT INTO pipe_segments ({}, geom) VALUES ({}, ST_GeomFromWKB(%s, 4527))")
        .format(sql.SQL(", ").join(map(sql.Identifier, values)),
                sql.SQL(", ").join(sql.Placeholder() * len(values))),
        (*values.values(), shapely.to_wkb(shapely.force_3d(line, z))))


def insert_gas_main(conn: psycopg.Connection, code: str = "G1", dx: float = 0.0,
                    length: float = 100.0) -> None:
    """A 灰口铸铁 (ZT) gas main of 1980, in service, ``length`` m east from (X0 + dx, Y0) at
    30 m: base 1 + material 3 + age 2 = 6, likelihood 5 under the platform's rules."""
    line = shapely.affinity.translate(LineString([(0, 0), (length, 0)]), X0 + dx, Y0)
    insert_pipe(conn, code, line, start_point_code="a", end_point_code="b",
                material_code="ZT", year_built=1980, status_code="0")


def gas_rule(likelihood: dict[str, Any], **rule: Any) -> str:
    """A rules file (`--rules`) of one rule, ``gas``: 0101 燃气管道泄漏燃爆 on every gas pipe
    (class 03), its unit the pipe's ``owner`` else 燃气主管部门, its measure 更新改造;
    ``likelihood`` (the scores) and the rest of the rule (min_likelihood, exclude_status …)
    are the test's, next to the grades it expects of them."""
    return yaml.safe_dump({"rules": [{
        "id": "gas", "type": "0101", "kind": "pipe_condition", "where": {"pipe_class": ["03"]},
        "owner_fields": ["owner"], "default_unit": "燃气主管部门", "likelihood": likelihood,
        **rule, "measure": "更新改造"}]}, allow_unicode=True, sort_keys=False)
