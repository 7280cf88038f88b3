"""Source keys without the blanks around their ids (issue 12: stable codes on reload).

The loaders now read an id without the blanks around it (``loaders.common._id_texts``):
``B-01 `` — a CSV or GeoPackage text padded by its writer — and ``B-01`` are one feature. Keys
stored before kept the blanks, so the next load of such a dataset would have found none of
its features: new codes in ``replace`` mode, and in ``update`` mode a second current feature
beside each old one. Here each stored key is trimmed as the loaders trim ids now — at its
end, and after its dataset's ``:`` (and a further id field's ``=``) — in the code registry
and in every layer table, where the trimmed key is free: a trimmed key some row already
holds, or two padded keys trimming to one, are left as they are (two features the delivery
told apart only by blanks; the next load keeps the one its rows match).

Revision ID: 0014_trimmed_source_keys
Revises: 0013_conversion_records
Create Date: 2026-12-05
"""

from alembic import op

revision = "0014_trimmed_source_keys"
down_revision = "0013_conversion_records"
branch_labels = None
depends_on = None

# what Python's str.strip() strips (loaders.common._PY_WHITESPACE), as a regex class
_WS = (r"[\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029"
       r"\u202f\u205f\u3000]")
# the key trimmed: blanks at its end, and after "dataset:" or "dataset:field="
_TRIMMED = (f"regexp_replace(regexp_replace({{k}}, '{_WS}+$', ''), "
            f"'^([^:]*:([^=]*=)?){_WS}+', '\\1')")


def upgrade() -> None:
    new = _TRIMMED.format(k="source_key")
    # the registry first: a layer table's key is trimmed only where its registry row was (or
    # where the registry has none), so that the two keep naming each other
    op.execute(f"""
        CREATE TEMP TABLE _trim ON COMMIT DROP AS
        WITH c AS (SELECT DISTINCT layer, source_key AS old, {new} AS new
                   FROM code_registry WHERE source_key <> {new}),
             g AS (SELECT layer, new, min(old) AS old FROM c GROUP BY layer, new
                   HAVING count(*) = 1)
        SELECT g.* FROM g WHERE NOT EXISTS (
            SELECT 1 FROM code_registry r WHERE r.layer = g.layer AND r.source_key = g.new)""")
    op.execute("UPDATE code_registry r SET source_key = t.new FROM _trim t "
               "WHERE r.layer = t.layer AND r.source_key = t.old")
    tables = [r[0] for r in op.get_bind().exec_driver_sql(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.columns v ON v.table_schema = c.table_schema "
        " AND v.table_name = c.table_name AND v.column_name = 'valid_to' "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
        " AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.table_schema = current_schema() AND c.column_name = 'source_key' "
        "AND c.table_name NOT LIKE 'code\\_registry%%' "
        "ORDER BY 1").fetchall()]
    for table in tables:
        op.execute(f"""
            WITH c AS (SELECT DISTINCT source_key AS old, {new} AS new FROM "{table}"
                       WHERE source_key <> {new}),
                 g AS (SELECT new, min(old) AS old FROM c GROUP BY new HAVING count(*) = 1),
                 free AS (SELECT g.* FROM g WHERE NOT EXISTS (
                              SELECT 1 FROM "{table}" o WHERE o.source_key = g.new)
                          AND (EXISTS (SELECT 1 FROM _trim t WHERE t.layer = '{table}'
                                       AND t.old = g.old AND t.new = g.new)
                               OR NOT EXISTS (SELECT 1 FROM code_registry r
                                              WHERE r.layer = '{table}'
                                              AND r.source_key IN (g.old, g.new))))
            UPDATE "{table}" x SET source_key = free.new FROM free
            WHERE x.source_key = free.old""")


def downgrade() -> None:
    pass  # the blanks are not kept: a trimmed key is the key the loaders read now
