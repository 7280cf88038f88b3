"""The risk list (城市治理风险清单, issue 13): risk points and the record of assessments.

- ``risk_points`` (POINT), a layer with the common layer columns of 0001 (copied here:
  migrations are frozen snapshots): one point per risk (a type of ``risk_types.csv`` on an
  asset of another layer, or placed by hand), its platform code (feature scheme, layer 91,
  class = the risk domain), the responsible unit, likelihood and consequence (1-5), the level
  重大/较大/一般/低 and its colour 红/橙/黄/蓝, and the one control measure (measure, unit,
  deadline, status). ``source`` says whether a rule (``rule_id``) or a person added it.
- ``risk_assessments``: one row per point per ``cim risk assess`` run (``run_id``), so a
  point's level history is kept even when the point itself is regraded or retired.

Revision ID: 0007_risk
Revises: 0006_health
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import context, op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0007_risk"
down_revision = "0006_health"
branch_labels = None
depends_on = None


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


def _current_index(table: str, suffix: str, column: str, unique: bool = False) -> None:
    op.create_index(f"{table}_{suffix}", table, [column], unique=unique,
                    postgresql_where=sa.text("valid_to IS NULL"))


def upgrade() -> None:
    t = "risk_points"
    op.create_table(
        t,
        *_layer_columns(_srid(), "POINT"),
        sa.Column("risk_type_code", sa.Text, nullable=False),
        sa.Column("risk_type", sa.Text),
        sa.Column("domain_code", sa.String(2), nullable=False),
        sa.Column("domain", sa.Text),
        sa.Column("asset_layer", sa.Text),
        sa.Column("asset_code", sa.String(24)),
        sa.Column("description", sa.Text),
        sa.Column("responsible_unit", sa.Text),
        sa.Column("likelihood", sa.Integer, nullable=False),
        sa.Column("consequence", sa.Integer, nullable=False),
        sa.Column("level", sa.Text, nullable=False),  # 重大 较大 一般 低
        sa.Column("color", sa.Text, nullable=False),  # 红 橙 黄 蓝
        sa.Column("measure", sa.Text),
        sa.Column("measure_unit", sa.Text),
        sa.Column("deadline", sa.Date),
        sa.Column("measure_status", sa.Text),
        sa.Column("source", sa.Text, nullable=False),  # rule | manual
        sa.Column("rule_id", sa.Text),
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        sa.CheckConstraint("likelihood BETWEEN 1 AND 5", name=f"{t}_likelihood_ck"),
        sa.CheckConstraint("consequence BETWEEN 1 AND 5", name=f"{t}_consequence_ck"),
        sa.CheckConstraint("level IN ('重大', '较大', '一般', '低')", name=f"{t}_level_ck"),
        sa.CheckConstraint("color IN ('红', '橙', '黄', '蓝')", name=f"{t}_color_ck"),
        sa.CheckConstraint("source IN ('rule', 'manual')", name=f"{t}_source_ck"),
    )
    _current_index(t, "code_current_uq", "code", unique=True)
    _current_index(t, "source_key_current_idx", "source_key")
    op.create_index(f"{t}_geom_gist", t, ["geom"], postgresql_using="gist")
    _current_index(t, "level_current_idx", "level")
    _current_index(t, "asset_current_idx", "asset_code")

    op.create_table(
        "risk_assessments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("code", sa.String(24), nullable=False),
        sa.Column("risk_type_code", sa.Text, nullable=False),
        sa.Column("asset_code", sa.String(24)),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("likelihood", sa.Integer, nullable=False),
        sa.Column("consequence", sa.Integer, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("color", sa.Text, nullable=False),
        sa.Column("factors", pg.JSONB, nullable=False, server_default="{}"),
    )
    op.execute("CREATE SEQUENCE risk_assessment_run_seq")
    op.create_index("risk_assessments_code_idx", "risk_assessments", ["code", "run_id"])
    op.create_index("risk_assessments_run_idx", "risk_assessments", ["run_id"])


def downgrade() -> None:
    op.drop_table("risk_assessments")
    op.execute("DROP SEQUENCE IF EXISTS risk_assessment_run_seq")
    op.drop_table("risk_points")
