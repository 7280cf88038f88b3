"""Planning control layers (规划管控, issue 11): what a proposed project is checked against.

Three layer tables with the common layer columns of 0001 (copied here: migrations are frozen
snapshots):

- ``planning_parcels`` (MULTIPOLYGON): regulatory-plan parcels 控规地块 with their land use
  (国土空间调查、规划、用途管制用地用海分类 code; GB 50137 codes are mapped by the loader) and
  indices: max floor area ratio, max building density and min green ratio (fractions 0–1),
  max height, setbacks from road red lines, the site boundary and blue lines.
- ``control_lines`` (any geometry: areas, or lines such as road centre lines with a width):
  the five control lines 道路红线 HX / 绿线 LVX / 蓝线 LX / 紫线 ZX / 黄线 HUX
  (``cim/dictionaries/control_lines.csv``).
- ``height_zones`` (MULTIPOLYGON): height-limit zones (机场净空, 视线通廊, 其他) with a height
  above ground and/or an elevation above the datum.

Revision ID: 0003_planning
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import context, op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0003_planning"
down_revision = "0002"
branch_labels = None
depends_on = None

LAYERS = ("planning_parcels", "control_lines", "height_zones")


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


def _layer_indexes(table: str) -> None:
    op.create_index(f"{table}_code_current_uq", table, ["code"], unique=True,
                    postgresql_where=sa.text("valid_to IS NULL"))
    op.create_index(f"{table}_source_key_current_idx", table, ["source_key"],
                    postgresql_where=sa.text("valid_to IS NULL"))
    op.create_index(f"{table}_geom_gist", table, ["geom"], postgresql_using="gist")


def _fraction_ck(table: str, column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IS NULL OR {column} BETWEEN 0 AND 1",
                              name=f"{table}_{column}_ck")


def _non_negative_ck(table: str, column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IS NULL OR {column} >= 0", name=f"{table}_{column}_ck")


def upgrade() -> None:
    srid = _srid()
    t = "planning_parcels"
    op.create_table(
        t,
        *_layer_columns(srid, "MULTIPOLYGON"),
        sa.Column("parcel_code", sa.Text),  # 控规地块编码
        sa.Column("land_use_code", sa.Text),  # 0701, 09 … (用地用海分类)
        sa.Column("land_use_name", sa.Text),  # 城镇住宅用地 …
        sa.Column("max_far", sa.Float),  # 容积率上限
        sa.Column("max_density", sa.Float),  # 建筑密度上限 (fraction)
        sa.Column("min_green_ratio", sa.Float),  # 绿地率下限 (fraction)
        sa.Column("max_height", sa.Float),  # 建筑限高 (m)
        sa.Column("setback_road_m", sa.Float),  # 退道路红线
        sa.Column("setback_site_m", sa.Float),  # 退用地红线
        sa.Column("setback_blue_m", sa.Float),  # 退蓝线
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        _fraction_ck(t, "max_density"), _fraction_ck(t, "min_green_ratio"),
        *(_non_negative_ck(t, c) for c in ("max_far", "max_height", "setback_road_m",
                                            "setback_site_m", "setback_blue_m")),
    )
    _layer_indexes(t)
    op.create_index(f"{t}_parcel_code_current_idx", t, ["parcel_code"],
                    postgresql_where=sa.text("valid_to IS NULL"))
    t = "control_lines"
    op.create_table(
        t,
        *_layer_columns(srid, "GEOMETRY"),
        sa.Column("line_type", sa.Text, nullable=False),  # 道路红线 绿线 蓝线 紫线 黄线
        sa.Column("line_type_code", sa.Text, nullable=False),  # HX LVX LX ZX HUX
        sa.Column("name", sa.Text),
        sa.Column("width_m", sa.Float),  # road red line given as a centre line
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        sa.CheckConstraint("line_type_code IN ('HX', 'LVX', 'LX', 'ZX', 'HUX')",
                           name=f"{t}_line_type_code_ck"),
        sa.CheckConstraint("width_m IS NULL OR width_m > 0", name=f"{t}_width_m_ck"),
    )
    _layer_indexes(t)
    op.create_index(f"{t}_line_type_current_idx", t, ["line_type_code"],
                    postgresql_where=sa.text("valid_to IS NULL"))
    t = "height_zones"
    op.create_table(
        t,
        *_layer_columns(srid, "MULTIPOLYGON"),
        sa.Column("zone_type", sa.Text, nullable=False),  # 机场净空 视线通廊 其他
        sa.Column("name", sa.Text),
        sa.Column("max_height", sa.Float),  # m above ground
        sa.Column("max_elevation", sa.Float),  # m above the datum
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        _non_negative_ck(t, "max_height"),
    )
    _layer_indexes(t)


def downgrade() -> None:
    for table in reversed(LAYERS):
        op.drop_table(table)
