"""Write the styles into ``public.layer_styles`` as each layer's default style.

``layer_styles`` is QGIS's own table (created here with QGIS's exact definition when absent):
QGIS reads the default style from it whenever a planner adds one of the PostGIS layers by hand,
so the layer comes in styled. A table with several geometry types (components) gets one row per
type, which QGIS tells apart by the ``type`` column (Point, Line, Polygon).
"""

from __future__ import annotations

import psycopg

from cim.db.layer_styles import rekey_layer_styles
from cim.layerdefs import GEOMETRY_COLUMN
from cim.profile import CityProfile
from layers.styles.model import GEOMETRY_KINDS, load_styles
from layers.styles.qml import qml

# the statement QGIS 3.22 runs when it saves the first style (libprovider_postgres)
CREATE_LAYER_STYLES = (
    "CREATE TABLE IF NOT EXISTS public.layer_styles(id SERIAL PRIMARY KEY,"
    "f_table_catalog varchar,f_table_schema varchar,f_table_name varchar,"
    "f_geometry_column varchar,styleName text,styleQML xml,styleSLD xml,useAsDefault boolean,"
    "description text,owner varchar(63) DEFAULT CURRENT_USER,ui xml,"
    "update_time timestamp DEFAULT CURRENT_TIMESTAMP,type varchar)")
QGIS_TYPE = {"point": "Point", "line": "Line", "fill": "Polygon"}
STYLE_PREFIX = "cim "  # the platform's rows: replaced by every apply, a planner's own kept


def style_rows(profile: CityProfile) -> list[tuple[str, str, str, str]]:
    """(table, QGIS geometry type, style name, QML) for every styled layer."""
    styles = load_styles(profile)
    rows = []
    for name, st in styles.layers.items():
        kinds = GEOMETRY_KINDS if st.kind == "mixed" else (st.kind,)
        for kind in kinds:
            rows.append((name, QGIS_TYPE[kind], f"{STYLE_PREFIX}{name}"
                         + (f" {QGIS_TYPE[kind].lower()}" if st.kind == "mixed" else ""),
                         qml(name, profile, geometry=kind, styles=styles)))
    return rows


def apply_styles(conninfo: str, profile: CityProfile) -> list[dict]:
    """Replace the platform's default styles in ``public.layer_styles``; one transaction.
    Layers whose table does not exist are skipped. Returns what was written."""
    written = []
    rows = style_rows(profile)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(CREATE_LAYER_STYLES)
        rekey_layer_styles(conn)  # (a database restored under another name; as the owner)
        db = conn.execute("SELECT current_database()").fetchone()[0]
        for table, gtype, style_name, text in rows:
            if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is None:
                continue
            key = (db, "public", table, GEOMETRY_COLUMN)
            conn.execute("DELETE FROM public.layer_styles WHERE f_table_catalog=%s AND "
                         "f_table_schema=%s AND f_table_name=%s AND f_geometry_column=%s AND "
                         "styleName LIKE %s AND (type=%s OR type IS NULL)",
                         (*key, STYLE_PREFIX + "%", gtype))
            conn.execute("UPDATE public.layer_styles SET useAsDefault=false WHERE "
                         "f_table_catalog=%s AND f_table_schema=%s AND f_table_name=%s AND "
                         "f_geometry_column=%s AND (type=%s OR type IS NULL)", (*key, gtype))
            conn.execute("INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, "
                         "f_table_name, f_geometry_column, styleName, styleQML, useAsDefault, "
                         "description, type) VALUES (%s, %s, %s, %s, %s, "
                         "XMLPARSE(DOCUMENT %s), true, %s, %s)",
                         (*key, style_name, text, "CIM one map (cim styles apply)", gtype))
            written.append({"layer": table, "type": gtype, "style": style_name})
    return written
