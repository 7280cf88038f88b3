"""Which conversion a layer's rows were written or verified under (issue 12: reloads).

A reload skips a row whose source is unchanged — the same fingerprint — only if the row's
content came from the conversion the load would run now (loader version, code, mapping, CRS,
options, boundaries). That was told by mixing the conversion's digest into each row's
fingerprint, so that a new conversion (every release touching its code) had each unchanged
row rewritten to store its new fingerprint: a million footprints 29 s and a new version of
every tuple (docs/benchmarks.md, 2026-12-04). Now the row keeps the fingerprint of its raw
source row, the batch that wrote it records the conversion's digest (``conversion``), and a
reload that finds rows of an older conversion unchanged records so once for the dataset
(``load_verified``) instead of rewriting them: every current row up to its batch, when it
found them all (``upto_batch``), else their ids as one array.

Revision ID: 0013_conversion_records
Revises: 0012_registry_key_order
Create Date: 2026-12-04
"""

from alembic import op

revision = "0013_conversion_records"
down_revision = "0012_registry_key_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE load_batches ADD COLUMN conversion text")
    op.execute("""
        CREATE TABLE load_verified (
            batch_id bigint NOT NULL REFERENCES load_batches (id) ON DELETE CASCADE,
            layer text NOT NULL,
            dataset text NOT NULL,
            conversion text NOT NULL,
            upto_batch bigint,
            ids bytea,
            CHECK ((upto_batch IS NULL) <> (ids IS NULL))
        )""")
    op.execute("CREATE INDEX load_verified_dataset_idx ON load_verified (layer, dataset)")


def downgrade() -> None:
    op.execute("DROP TABLE load_verified")
    op.execute("ALTER TABLE load_batches DROP COLUMN conversion")
