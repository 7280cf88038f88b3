"""The code registry partitioned by layer (issue 12: bulk loads).

A layer's first load of a million features spent ~5 s of the server's time (of a 17–20 s
load) putting its registry rows into the one shared table one by one through its two unique
btrees, which cost three times their building once the rows are in (docs/benchmarks.md). A
table shared by every layer can never lose its indexes for a load. Partitioned by ``layer``,
a layer's first codes go into a table of their own that the load creates, fills (``COPY …
FREEZE``), indexes and attaches in its transaction (``cim.coding.registry``).

Every layer without a partition of its own keeps its codes in the default partition
(``code_registry_default``): the small layers, the codes the services draw (cases, alarms,
risks), and every code of before this revision. Nothing else changes for a reader or a writer
of ``code_registry``:

- ``(layer, source_key)`` stays unique (the parent's constraint, ``ON CONFLICT`` arbiter);
- a code is unique in its partition (each partition's own unique index: a unique constraint
  of a partitioned table must hold its partition key). Across partitions the one allocator
  guarantees it as it always did (one counter row per prefix, locked until commit); the class
  in a code's prefix belongs to one layer.

Revision ID: 0011_registry_by_layer
Revises: 0010_byte_order_keys
Create Date: 2026-12-03
"""

from alembic import op

revision = "0011_registry_by_layer"
down_revision = "0010_byte_order_keys"
branch_labels = None
depends_on = None

COLUMNS = """
    code varchar(24) COLLATE "C" NOT NULL,
    layer text COLLATE "C" NOT NULL,
    source_key text COLLATE "C" NOT NULL,
    district_code varchar(6),
    class_code varchar(8),
    batch_id bigint,
    issued_at timestamptz DEFAULT now()"""
MOVE = ("INSERT INTO code_registry SELECT code, layer, source_key, district_code, class_code, "
        "batch_id, issued_at FROM code_registry_old")


def _set_aside() -> None:
    op.execute("ALTER TABLE code_registry RENAME TO code_registry_old")
    for name in ("code_registry_pkey", "code_registry_layer_source_uq"):
        op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_old")


def upgrade() -> None:
    _set_aside()
    op.execute(f"""CREATE TABLE code_registry ({COLUMNS},
        CONSTRAINT code_registry_layer_source_uq UNIQUE (layer, source_key)
    ) PARTITION BY LIST (layer)""")
    op.execute("CREATE TABLE code_registry_default PARTITION OF code_registry DEFAULT")
    op.execute("CREATE UNIQUE INDEX code_registry_default_code_uq "
               "ON code_registry_default (code)")
    op.execute(MOVE)
    op.execute("DROP TABLE code_registry_old")
    op.execute("ANALYZE code_registry")


def downgrade() -> None:
    _set_aside()
    op.execute(f"""CREATE TABLE code_registry ({COLUMNS},
        CONSTRAINT code_registry_pkey PRIMARY KEY (code),
        CONSTRAINT code_registry_layer_source_uq UNIQUE (layer, source_key))""")
    op.execute(MOVE)
    op.execute("DROP TABLE code_registry_old")  # with its partitions
