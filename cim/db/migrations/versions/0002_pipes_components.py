"""Pipe networks (地下管线, CJJ 61) and city-management components (城市部件, GB/T 30428.2).

Three layer tables with the common layer columns of 0001 (copied here: migrations are frozen
snapshots):

- ``pipe_points`` (POINTZ at ground elevation): survey points 管线点 — characteristic points
  (特征) and appurtenances (附属物), and appurtenances attached to a segment (``segment_code``,
  e.g. valves of a GIS network that lie along a pipe rather than at a node).
- ``pipe_segments`` (LINESTRINGZ at pipe elevation): 管线段. Node–edge topology: each segment
  names its start and end point records by their platform codes (``start_point_code``,
  ``end_point_code``). Codes, not ids: a point's code is stable across its versions (an update
  gives the point a new row id but the same code), so the topology survives reloads and history
  queries. The survey point numbers (``start_point_no``/``end_point_no``) are kept as delivered.
- ``components`` (any geometry type: points, lines for 交通护栏/绿地护栏…, polygons for
  停车场/绿地/工地…), one table so that the OGC API serves one collection ``components``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import context, op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LAYERS = ("pipe_points", "pipe_segments", "components")


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


def _pipe_class_columns() -> list[sa.Column]:
    return [
        sa.Column("pipe_class", sa.String(2), nullable=False),  # platform class 01..08
        sa.Column("class_name", sa.Text, nullable=False),  # 给水, 排水 …
        sa.Column("subclass_code", sa.String(2), nullable=False),  # CJJ 61 subclass, 00 unknown
        sa.Column("subclass_name", sa.Text),  # 雨水, 配水 …
        sa.Column("feature_code", sa.String(8), nullable=False),  # CJJ 61 Appendix F
    ]


def upgrade() -> None:
    srid = _srid()
    op.create_table(
        "pipe_points",
        *_layer_columns(srid, "POINTZ"),
        sa.Column("point_no", sa.Text, nullable=False),  # 物探点号
        sa.Column("map_no", sa.Text),  # 图上点号
        *_pipe_class_columns(),
        sa.Column("feature", sa.Text),  # 特征
        sa.Column("appurtenance", sa.Text),  # 附属物
        sa.Column("ground_elevation", sa.Float),  # 地面高程 (m, 1985 datum)
        sa.Column("survey_code", sa.Text),  # 点编码 as delivered
        sa.Column("road", sa.Text),
        sa.Column("segment_code", sa.String(18)),  # appurtenance attached to this segment
        sa.Column("note", sa.Text),
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        sa.CheckConstraint("feature_code ~ '^5[0-9]{7}$'", name="pipe_points_feature_code_ck"),
    )
    _layer_indexes("pipe_points")
    op.create_index("pipe_points_segment_current_idx", "pipe_points", ["segment_code"],
                    postgresql_where=sa.text("valid_to IS NULL"))
    op.create_table(
        "pipe_segments",
        *_layer_columns(srid, "LINESTRINGZ"),
        *_pipe_class_columns(),
        sa.Column("start_point_no", sa.Text),  # 起始点号
        sa.Column("end_point_no", sa.Text),  # 终止点号
        sa.Column("start_point_code", sa.String(18), nullable=False),
        sa.Column("end_point_code", sa.String(18), nullable=False),
        sa.Column("start_depth", sa.Float),  # 起点埋深 (m)
        sa.Column("end_depth", sa.Float),  # 终点埋深
        sa.Column("start_elevation", sa.Float),  # 起点高程 (pipe elevation, m)
        sa.Column("end_elevation", sa.Float),  # 终点高程
        sa.Column("material", sa.Text),  # 材质 as delivered
        sa.Column("material_code", sa.Text),  # CJJ 61 material code (ZT, G, PE …)
        sa.Column("burial", sa.Text),  # 埋设方式
        sa.Column("burial_code", sa.Text),  # ZM, GM, GK …
        sa.Column("diameter_mm", sa.Float),  # round pipes
        sa.Column("width_mm", sa.Float),  # box sections: width × height
        sa.Column("height_mm", sa.Float),
        sa.Column("size_text", sa.Text),  # 管径 as delivered
        sa.Column("pressure", sa.Text),  # 压力 (gas, water)
        sa.Column("voltage", sa.Text),  # 电压 (power)
        sa.Column("cable_count", sa.Integer),  # 电缆条数 / 孔数
        sa.Column("owner", sa.Text),  # 权属单位
        sa.Column("year_built", sa.Integer),  # 建设年代
        sa.Column("road", sa.Text),  # 道路名称
        sa.Column("status_code", sa.String(1)),  # 0 在用, 1 废弃, 2 空管, 3 其他
        sa.Column("status", sa.Text),
        sa.Column("length_m", sa.Float),  # horizontal length
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        sa.CheckConstraint("feature_code ~ '^5[0-9]{7}$'",
                           name="pipe_segments_feature_code_ck"),
        sa.CheckConstraint("diameter_mm IS NULL OR diameter_mm > 0",
                           name="pipe_segments_diameter_ck"),
    )
    _layer_indexes("pipe_segments")
    for end in ("start", "end"):
        op.create_index(f"pipe_segments_{end}_point_current_idx", "pipe_segments",
                        [f"{end}_point_code"], postgresql_where=sa.text("valid_to IS NULL"))
    op.create_table(
        "components",
        *_layer_columns(srid, "GEOMETRY"),
        sa.Column("name", sa.Text),
        sa.Column("subclass_code", sa.String(4), nullable=False),  # GB/T 30428.2 小类 0101
        sa.Column("subclass_name", sa.Text, nullable=False),
        sa.Column("major_code", sa.String(2), nullable=False),  # 大类 01..06
        sa.Column("major_name", sa.Text),
        sa.Column("state", sa.Text),  # 完好 / 破损 / 丢失 / 占用
        sa.Column("currency", sa.Text),  # 现势性: 在用 / 作废
        sa.Column("initial_date", sa.Date),  # 初始日期
        sa.Column("change_date", sa.Date),  # 变更日期
        sa.Column("dept_code", sa.Text),  # 主管部门
        sa.Column("dept_name", sa.Text),
        sa.Column("owner_code", sa.Text),  # 权属单位
        sa.Column("owner_name", sa.Text),
        sa.Column("maint_code", sa.Text),  # 养护单位
        sa.Column("maint_name", sa.Text),
        sa.Column("data_source", sa.Text),  # 实测 / 地形图 / 调绘 / 其它
        sa.Column("material", sa.Text),
        sa.Column("location", sa.Text),  # 位置描述
        sa.Column("note", sa.Text),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.CheckConstraint("subclass_code ~ '^[0-9]{4}$' AND major_code = left(subclass_code, 2)",
                           name="components_subclass_ck"),
    )
    _layer_indexes("components")
    op.create_index("components_subclass_current_idx", "components", ["subclass_code"],
                    postgresql_where=sa.text("valid_to IS NULL"))


def downgrade() -> None:
    for table in reversed(LAYERS):
        op.drop_table(table)
