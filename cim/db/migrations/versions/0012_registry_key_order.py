"""The registry's key constraint led by the source key (issue 12: bulk loads).

A layer's own partition of the registry (migration 0011) holds one layer: building its
``(layer, source_key)`` btree compared the same layer name first in every comparison, the
sort's abbreviated keys all equal — 1.8–1.9 s for a million codes against 0.95–1.05 s for
``(source_key, layer)`` (docs/benchmarks.md, 2026-12-04), on the second connection of a first
load, beside the layer's own index builds. The constraint keeps its name and its set of
columns, so it stays the ``ON CONFLICT (layer, source_key)`` arbiter (PostgreSQL matches an
arbiter by its columns, not their order), and a key or a dataset's prefix is still an index
range. The default partition, which holds many layers and is asked ``WHERE layer = …`` alone
(whether a layer has any code yet), keeps an index led by the layer.

Revision ID: 0012_registry_key_order
Revises: 0011_registry_by_layer
Create Date: 2026-12-04
"""

from alembic import op

revision = "0012_registry_key_order"
down_revision = "0011_registry_by_layer"
branch_labels = None
depends_on = None


def _key(columns: str) -> None:
    # dropping the parent's constraint drops each partition's index of it; adding it builds them
    op.execute("ALTER TABLE code_registry DROP CONSTRAINT code_registry_layer_source_uq")
    op.execute("ALTER TABLE code_registry ADD CONSTRAINT code_registry_layer_source_uq "
               f"UNIQUE ({columns})")


def upgrade() -> None:
    _key("source_key, layer")
    op.execute("CREATE INDEX code_registry_default_layer_idx "
               "ON code_registry_default (layer, source_key)")


def downgrade() -> None:
    op.execute("DROP INDEX code_registry_default_layer_idx")
    _key("layer, source_key")
