"""Source keys with their ids in the form the loaders match them (``cim.text.id_form``).

The loaders now read an id's full-width ASCII as ASCII and drop the invisible characters a
paste leaves: ``ＲＬ0001`` (typed in an IME's full-width mode) is the point RL0001, ``Q1`` and
``Ｑ1`` of one file are one building (the second a duplicate). Keys stored before kept those
characters, so the next load of such a dataset would have found none of those features: new
codes in ``replace`` mode, and in ``update`` mode a second current feature beside each old
one. Here the id part of each stored key (after its dataset's ``:``, and a further id field's
``=``, as migration 0014 reads a key) is put in that form, in the code registry and in every
layer table, where the new key is free: a key some row already holds, or two keys becoming
one, are left as they are (two features the delivery told apart only by such characters; the
next load keeps the one its rows match). The dataset's name and the id field's name are kept:
the loaders key them as named.

Only the layers whose loaders key ids in that form (``loaders.common.source_keys``, the pipe
survey's ``id_text``): a sensor is keyed by its device id as delivered (a reading names it
so), a district or grid cell by its code, a population row and a risk point by keys of their
own; rewriting those would have made the next load miss them (a sensor's second current row
refused by its unique device index). A first-field id holding ``=`` after a full-width
character (``ds:Ｑ=1``) is read as a field's key and left (rare; its next load gives it a new
code).

Revision ID: 0017_id_form_source_keys
Revises: 0016_cases_opened_order
Create Date: 2026-12-06
"""

from alembic import op

revision = "0017_id_form_source_keys"
down_revision = "0016_cases_opened_order"
branch_labels = None
depends_on = None

# full-width ASCII and the ideographic space → ASCII; the invisible characters, listed last
# without a counterpart, are dropped by translate() (cim.text: _HALF_WIDTH, _INVISIBLE)
_FROM = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000" \
    + "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_TO = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)) + " "
_ODD = r"[\uff01-\uff5e\u3000\u200b-\u200d\u2060\ufeff\u00ad]"
# what Python's str.strip() strips (loaders.common._PY_WHITESPACE), as a regex class
_WS = (r"[\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029"
       r"\u202f\u205f\u3000]")


# the key's head kept (dataset:, or dataset:field=), its id translated and trimmed; the
# statements go to the driver with the two alphabets as parameters (%(f)s, %(t)s)
_HEAD = "substring({k} from '^[^:]*:(?:[^=]*=)?')"
# the layers keyed by loaders.common.source_keys and the pipe survey's id_text at this revision
_LAYERS = ("buildings", "components", "roads", "green_spaces", "facilities", "planning_parcels",
           "control_lines", "height_zones", "pipe_points", "pipe_segments")
_NEW = (f"({_HEAD} || regexp_replace(regexp_replace(translate(substr({{k}}, "
        f"length({_HEAD}) + 1), %(f)s, %(t)s), '^{_WS}+', ''), "
        f"'{_WS}+$', ''))")


def upgrade() -> None:
    bind = op.get_bind()
    alphabets = {"f": _FROM, "t": _TO, "layers": list(_LAYERS)}
    new = _NEW.format(k="source_key")
    odd = f"source_key ~ '{_ODD}' AND {_HEAD.format(k='source_key')} IS NOT NULL"
    # the registry first: a layer table's key changes only where its registry row did (or
    # where the registry has none), so that the two keep naming each other
    bind.exec_driver_sql(f"""
        CREATE TEMP TABLE _idform ON COMMIT DROP AS
        WITH c AS (SELECT DISTINCT layer, source_key AS old, {new} AS new
                   FROM code_registry WHERE {odd} AND layer = ANY(%(layers)s)),
             g AS (SELECT layer, new, min(old) AS old FROM c WHERE new <> old
                   GROUP BY layer, new HAVING count(*) = 1)
        SELECT g.* FROM g WHERE NOT EXISTS (
            SELECT 1 FROM code_registry r WHERE r.layer = g.layer AND r.source_key = g.new)
        AND right(g.new, 1) NOT IN (':', '=')""", alphabets)
    op.execute("UPDATE code_registry r SET source_key = t.new FROM _idform t "
               "WHERE r.layer = t.layer AND r.source_key = t.old")
    tables = [r[0] for r in bind.exec_driver_sql(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.columns v ON v.table_schema = c.table_schema "
        " AND v.table_name = c.table_name AND v.column_name = 'valid_to' "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
        " AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.table_schema = current_schema() AND c.column_name = 'source_key' "
        "AND c.table_name = ANY(%(layers)s) "
        "ORDER BY 1", alphabets).fetchall()]
    for table in tables:
        bind.exec_driver_sql(f"""
            WITH c AS (SELECT DISTINCT source_key AS old, {new} AS new FROM "{table}"
                       WHERE {odd}),
                 g AS (SELECT new, min(old) AS old FROM c WHERE new <> old
                       AND right(new, 1) NOT IN (':', '=')
                       GROUP BY new HAVING count(*) = 1),
                 free AS (SELECT g.* FROM g WHERE NOT EXISTS (
                              SELECT 1 FROM "{table}" o WHERE o.source_key = g.new)
                          AND (EXISTS (SELECT 1 FROM _idform t WHERE t.layer = '{table}'
                                       AND t.old = g.old AND t.new = g.new)
                               OR NOT EXISTS (SELECT 1 FROM code_registry r
                                              WHERE r.layer = '{table}'
                                              AND r.source_key IN (g.old, g.new))))
            UPDATE "{table}" x SET source_key = free.new FROM free
            WHERE x.source_key = free.old""", alphabets)


def downgrade() -> None:
    pass  # the characters are not kept: the key is the one the loaders read now
