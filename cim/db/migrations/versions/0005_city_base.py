"""City base layers (issue 13): what the health check and the risk list are computed from.

Four layer tables with the common layer columns of 0001 (copied here: migrations are frozen
snapshots):

- ``roads`` (MULTILINESTRING): road centre lines with their class (快速路 主干路 次干路 支路,
  ``cim/dictionaries/road_classes.csv``), red-line width and lanes.
- ``green_spaces`` (MULTIPOLYGON): green spaces and parks typed by CJJ/T 85-2017 (综合公园 G11,
  社区公园 G12 …, ``green_types.csv``), their area computed from the geometry at load and
  whether they count as park green (公园绿地 G1).
- ``facilities`` (POINT): public service facilities typed by ``facility_types.csv`` (幼儿园,
  小学 … with their GB 50180-2018 life circle and walking distance) and a capacity.
- ``population`` (any geometry): residents per residential building (``unit_kind`` building,
  ``unit_code`` the building's code, its footprint) or per grid cell (``grid``, the cell's
  code and polygon), for a year.

Revision ID: 0005_city_base
Revises: 0004_approval_checks
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import context, op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0005_city_base"
down_revision = "0004_approval_checks"
branch_labels = None
depends_on = None

LAYERS = ("roads", "green_spaces", "facilities", "population")


def _srid() -> int:
    srid = context.config.attributes.get("srid")
    if not srid:
        raise RuntimeError("the storage SRID must be passed in config.attributes['srid']")
    return int(srid)


def _layer_columns(srid: int, geometry_type: str) -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(24), nullable=False),
        sa.Column("source_key", sa.Text, nullable=True),
        sa.Column("batch_id", sa.BigInteger, sa.ForeignKey("load_batches.id"), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_hash", sa.Text, nullable=True),
        sa.Column("flags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("attrs", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("geom", Geometry(geometry_type, srid=srid, spatial_index=False),
                  nullable=False),
    ]


def _place_columns() -> list[sa.Column]:
    return [sa.Column("district_code", sa.String(6)), sa.Column("grid_code", sa.String(15))]


def _layer_indexes(table: str, current: dict[str, str]) -> None:
    op.create_index(f"{table}_code_current_uq", table, ["code"], unique=True,
                    postgresql_where=sa.text("valid_to IS NULL"))
    op.create_index(f"{table}_source_key_current_idx", table, ["source_key"],
                    postgresql_where=sa.text("valid_to IS NULL"))
    op.create_index(f"{table}_geom_gist", table, ["geom"], postgresql_using="gist")
    for suffix, column in current.items():
        op.create_index(f"{table}_{suffix}", table, [column],
                        postgresql_where=sa.text("valid_to IS NULL"))


def upgrade() -> None:
    srid = _srid()
    t = "roads"
    op.create_table(
        t,
        *_layer_columns(srid, "MULTILINESTRING"),
        sa.Column("name", sa.Text),
        sa.Column("road_class", sa.Text, nullable=False),  # 快速路 主干路 次干路 支路
        sa.Column("road_class_code", sa.Text, nullable=False),  # 01 … 04
        sa.Column("red_line_width_m", sa.Float),
        sa.Column("lanes", sa.Integer),
        *_place_columns(),
        sa.CheckConstraint("red_line_width_m IS NULL OR red_line_width_m > 0",
                           name=f"{t}_red_line_width_m_ck"),
        sa.CheckConstraint("lanes IS NULL OR lanes > 0", name=f"{t}_lanes_ck"),
    )
    _layer_indexes(t, {"road_class_current_idx": "road_class_code"})
    t = "green_spaces"
    op.create_table(
        t,
        *_layer_columns(srid, "MULTIPOLYGON"),
        sa.Column("name", sa.Text),
        sa.Column("green_type", sa.Text, nullable=False),  # 综合公园 社区公园 游园 …
        sa.Column("green_type_code", sa.Text, nullable=False),  # G11 G12 G14 …
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("is_park", sa.Boolean, nullable=False),
        *_place_columns(),
        sa.CheckConstraint("area_m2 > 0", name=f"{t}_area_m2_ck"),
    )
    _layer_indexes(t, {"green_type_current_idx": "green_type_code"})
    t = "facilities"
    op.create_table(
        t,
        *_layer_columns(srid, "POINT"),
        sa.Column("name", sa.Text),
        sa.Column("facility_type", sa.Text, nullable=False),  # 幼儿园 小学 …
        sa.Column("facility_type_code", sa.Text, nullable=False),
        sa.Column("capacity", sa.Integer),
        *_place_columns(),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name=f"{t}_capacity_ck"),
    )
    _layer_indexes(t, {"facility_type_current_idx": "facility_type_code"})
    t = "population"
    op.create_table(
        t,
        *_layer_columns(srid, "GEOMETRY"),
        sa.Column("unit_kind", sa.Text, nullable=False),  # building | grid
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("residents", sa.Integer, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        *_place_columns(),
        sa.CheckConstraint("unit_kind IN ('building', 'grid')", name=f"{t}_unit_kind_ck"),
        sa.CheckConstraint("residents >= 0", name=f"{t}_residents_ck"),
    )
    _layer_indexes(t, {"unit_current_idx": "unit_code"})


def downgrade() -> None:
    for table in reversed(LAYERS):
        op.drop_table(table)
