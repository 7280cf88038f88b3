"""Codes and source keys compared byte by byte (``COLLATE "C"``; issue 12: bulk loads).

A code (``370811810100000001``) and a source key (``buildings:JZ0000002``) are identifiers, not
words: their only order is the bytes' (for UTF-8 that is the code-point order, what Python's
``sorted`` gives and what a ``C.UTF-8`` database gave already). Under the database's linguistic
collation every comparison went through the C library's ``strcoll`` and PostgreSQL sorted
without abbreviated keys: the btrees of a million codes and keys built in 1.6 s instead of
1.1 s, the code registry took its rows ~10 % slower, and ``LIKE 'dataset:%'`` (a dataset's
keys, the replace scope) could not use the key index at all. Equality is unchanged (both
collations are deterministic), so no query gives other rows; only an ``ORDER BY`` of keys
with non-ASCII text could list them otherwise on a database created with a linguistic locale.

No table is rewritten: the column's collation changes and its indexes are rebuilt. Applied to
the layer tables of the declarations at this revision (listed: migrations are frozen
snapshots), the code registry and the code counters.

Revision ID: 0010_byte_order_keys
Revises: 0009_source_hash
Create Date: 2026-12-03
"""

from alembic import op

revision = "0010_byte_order_keys"
down_revision = "0009_source_hash"
branch_labels = None
depends_on = None

LAYERS = ("admin_divisions", "buildings", "components", "control_lines", "facilities",
          "green_spaces", "grid_cells", "height_zones", "pipe_points", "pipe_segments",
          "planning_parcels", "population", "risk_points", "roads", "sensors")
COLUMNS = {**{t: ("code", "source_key") for t in LAYERS},
           "code_registry": ("code", "layer", "source_key"), "code_counters": ("prefix",)}


def _collate(collation: str) -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            # the column's own type (varchar(24), text) kept: only its collation changes
            op.execute(f"""
                DO $$
                DECLARE t text;
                BEGIN
                  SELECT format_type(atttypid, atttypmod) INTO t FROM pg_attribute
                   WHERE attrelid = '{table}'::regclass AND attname = '{column}'
                     AND NOT attisdropped;
                  EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE %s COLLATE %s',
                                 '{table}', '{column}', t, '{collation}');
                END $$""")


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('"default"')
