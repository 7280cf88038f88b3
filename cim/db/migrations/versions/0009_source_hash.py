"""A fingerprint of each feature's source row (issue 12: incremental reloads).

``source_hash`` (bigint, NULL when the loader keeps none) is a 64-bit hash of the raw source row
as the file delivered it — its geometry's WKB, every attribute, and the load's context (field
mapping, source CRS, dictionaries, converter version: ``loaders.hashing.source_fingerprints``).
A reload of the same dataset compares it before converting: a row whose key and fingerprint
are those of the current version is unchanged without being read further, so a reload with 1 %
changed converts 1 % of the rows. The content hash (``row_hash``) still decides for the rows
that are converted; a NULL never matches. Added to every layer table of the declarations at
this revision (listed: migrations are frozen snapshots).

Revision ID: 0009_source_hash
Revises: 0008_operations
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_source_hash"
down_revision = "0008_operations"
branch_labels = None
depends_on = None

TABLES = ("admin_divisions", "buildings", "components", "control_lines", "facilities",
          "green_spaces", "grid_cells", "height_zones", "pipe_points", "pipe_segments",
          "planning_parcels", "population", "risk_points", "roads", "sensors")


def upgrade() -> None:
    for t in TABLES:
        op.add_column(t, sa.Column("source_hash", sa.BigInteger))


def downgrade() -> None:
    for t in TABLES:
        op.drop_column(t, "source_hash")
