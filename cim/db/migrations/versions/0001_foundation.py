"""Foundation schema: properties, code registry, load batches/rejects, admin, grid, buildings.

Every layer table has: id primary key, unified ``code`` unique among current versions
(``valid_to IS NULL``), ``source_key`` (what keeps a code stable across reloads), a geometry in
the storage SRID with a GiST index, ``valid_from``/``valid_to`` history, ``row_hash`` (detects
unchanged features on reload), ``batch_id`` provenance, ``flags`` and the source attributes.

The storage SRID is fixed per database when it is created (recorded in ``cim_properties``).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import context, op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LAYERS = ("admin_divisions", "grid_cells", "buildings")


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


def upgrade() -> None:
    srid = _srid()
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "cim_properties",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.execute(sa.text("INSERT INTO cim_properties (key, value) VALUES ('storage_srid', :v)")
               .bindparams(v=str(srid)))
    op.create_table(
        "load_batches",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("source_path", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.Text),
        sa.Column("source_crs", sa.Text),
        sa.Column("mode", sa.Text, nullable=False, server_default="append"),
        sa.Column("options", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("loader_version", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        sa.Column("error", sa.Text),
        sa.Column("pid", sa.Integer),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("loaded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("report", pg.JSONB, nullable=False, server_default="{}"),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')",
                           name="load_batches_status_ck"),
    )
    op.create_table(
        "load_rejects",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("batch_id", sa.BigInteger, sa.ForeignKey("load_batches.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("row_number", sa.Integer),
        sa.Column("source_key", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("field", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("attrs", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("geom_wkt", sa.Text),
    )
    op.create_index("load_rejects_batch_idx", "load_rejects", ["batch_id", "row_number"])
    op.create_table(
        "code_registry",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("source_key", sa.Text, nullable=False),
        sa.Column("district_code", sa.String(6)),
        sa.Column("class_code", sa.String(8)),
        sa.Column("batch_id", sa.BigInteger),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.UniqueConstraint("layer", "source_key", name="code_registry_layer_source_uq"),
    )
    op.create_table(
        "code_counters",
        sa.Column("prefix", sa.String(24), primary_key=True),
        sa.Column("last_serial", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "admin_divisions",
        *_layer_columns(srid, "MULTIPOLYGON"),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("parent_code", sa.String(12)),
    )
    _layer_indexes("admin_divisions")
    op.create_table(
        "grid_cells",
        *_layer_columns(srid, "MULTIPOLYGON"),
        sa.Column("name", sa.Text),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("street_code", sa.String(9)),
        sa.Column("community_code", sa.String(12)),
    )
    _layer_indexes("grid_cells")
    op.create_table(
        "buildings",
        *_layer_columns(srid, "MULTIPOLYGON"),
        sa.Column("name", sa.Text),
        sa.Column("use_code", sa.String(2)),
        sa.Column("use_name", sa.Text),
        sa.Column("structure", sa.Text),
        sa.Column("floors_above", sa.Integer),
        sa.Column("floors_below", sa.Integer),
        sa.Column("height", sa.Float),
        sa.Column("year_built", sa.Integer),
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        sa.CheckConstraint("floors_above IS NULL OR floors_above BETWEEN 0 AND 300",
                           name="buildings_floors_above_ck"),
        sa.CheckConstraint("height IS NULL OR height BETWEEN 0 AND 1000",
                           name="buildings_height_ck"),
    )
    _layer_indexes("buildings")


def downgrade() -> None:
    for table in reversed(LAYERS):
        op.drop_table(table)
    for table in ("code_counters", "code_registry", "load_rejects", "load_batches",
                  "cim_properties"):
        op.drop_table(table)
