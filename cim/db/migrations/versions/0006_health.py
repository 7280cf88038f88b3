"""City health check (issue 13 items 2-3): ``health_runs`` and ``health_indicators``.

``health_runs``: each ``cim health compute`` (year, when, the catalog it read, the city index).
``health_indicators``: one row per indicator × unit (district or the city) × year with value,
target, status, score, the previous year's value and the trend, flags (``straight_line`` …) and
detail; ``geom`` is the unit's polygon so the table is served as the OGC API collection
``health_indicators`` (the provider reads current rows, ``valid_to IS NULL``, by ``code``).
Recomputing a year retires its current rows (``valid_to``) and writes new ones.

Revision ID: 0006_health
Revises: 0005_city_base
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import context, op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0006_health"
down_revision = "0005_city_base"
branch_labels = None
depends_on = None


def _srid() -> int:
    srid = context.config.attributes.get("srid")
    if not srid:
        raise RuntimeError("the storage SRID must be passed in config.attributes['srid']")
    return int(srid)


def upgrade() -> None:
    op.create_table(
        "health_runs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("params", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("summary", pg.JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("health_runs_year_idx", "health_runs", ["year"])
    op.create_table(
        "health_indicators",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(96), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("health_runs.id"), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("indicator_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text),
        sa.Column("dimension", sa.Text, nullable=False),
        sa.Column("unit", sa.Text),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("unit_kind", sa.Text, nullable=False),
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("unit_name", sa.Text),
        sa.Column("value", sa.Float),
        sa.Column("target", sa.Float),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("previous_year", sa.Integer),
        sa.Column("previous_value", sa.Float),
        sa.Column("change", sa.Float),
        sa.Column("trend", sa.Text),
        sa.Column("method", sa.Text),
        sa.Column("flags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("detail", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=_srid(), spatial_index=False)),
        sa.CheckConstraint("unit_kind IN ('city', 'district')", name="health_unit_kind_ck"),
        sa.CheckConstraint("direction IN ('up', 'down')", name="health_direction_ck"),
        sa.CheckConstraint("status IN ('met', 'not_met', 'no_target', 'no_data')",
                           name="health_status_ck"),
    )
    op.create_index("health_indicators_code_current_uq", "health_indicators", ["code"],
                    unique=True, postgresql_where=sa.text("valid_to IS NULL"))
    op.create_index("health_indicators_year_current_idx", "health_indicators",
                    ["year", "indicator_id"], postgresql_where=sa.text("valid_to IS NULL"))
    op.create_index("health_indicators_geom_gist", "health_indicators", ["geom"],
                    postgresql_using="gist")


def downgrade() -> None:
    op.drop_table("health_indicators")
    op.drop_table("health_runs")
