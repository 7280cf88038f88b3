"""Look-ups of single features and codes (load batches: :mod:`layers.batches`)."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from cim.coding.scheme import DecodedCode, decode
from cim.layerdefs import LAYERS
from cim.profile import CityProfile
from layers.query.common import ConnOrInfo, connection


def explain_code(conninfo: ConnOrInfo, profile: CityProfile, code: str) -> DecodedCode:
    """Decode a code and say whether a current feature carries it (``conninfo``: as every
    query of the library takes it, :func:`layers.query.common.connection`)."""
    d = decode(code, profile)
    with connection(conninfo) as conn:
        reg = conn.execute("SELECT layer FROM code_registry WHERE code = %s", (d.code,)).fetchone()
        table = d.layer if d.layer in LAYERS else (reg[0] if reg else None)
        exists = False
        if table and conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
            exists = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE code = %s "
                                          "AND valid_to IS NULL)").format(sql.Identifier(table)),
                                  (d.code,)).fetchone()[0]
        # the district's name as the database has it now (the profile may predate a
        # `cim profile apply` that renamed or added it); the profile's when the database has none
        row = conn.execute("SELECT name FROM admin_divisions WHERE code = %s "
                           "AND valid_to IS NULL", (d.district_code,)).fetchone()
        if row and row[0]:
            d.district_name = row[0]
    d.exists = bool(exists)
    return d


def history(conninfo: ConnOrInfo, code: str) -> list[dict[str, Any]]:
    """Every version of the feature with ``code``, oldest first, from whichever layer has it.
    Its ``position`` (a point on it) is EWKT, ``SRID=…;POINT(x y)`` easting first, as the
    query library reads it back (plain WKT in the storage CRS is northing first there)."""
    with connection(conninfo) as lent, lent.cursor(row_factory=dict_row) as conn:
        reg = conn.execute("SELECT layer FROM code_registry WHERE code = %s", (code,)).fetchone()
        if reg is None:
            return []
        table = reg["layer"]
        cols = [r["column_name"] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "AND column_name NOT IN ('geom', 'attrs', 'row_hash', 'source_hash', 'id') "
            "ORDER BY ordinal_position",
            (table,))]
        q = sql.SQL("SELECT {cols}, ST_Area(geom) AS area_m2, ST_Length(geom) AS length_m, "
                    "ST_AsEWKT(ST_PointOnSurface(geom)) AS position FROM {t} WHERE code = %s "
                    "ORDER BY valid_from, id").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, cols)), t=sql.Identifier(table))
        rows = conn.execute(q, (code,)).fetchall()
        for r in rows:
            r["layer"] = table
            r["current"] = r.get("valid_to") is None
        return rows
