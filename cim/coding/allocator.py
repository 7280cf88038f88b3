"""The one code allocator: set-based, concurrency-safe, never reuses a code.

Works on a staging table that has ``row_no``, ``source_key``, ``prefix`` and ``code`` columns.
A source key that was coded before gets its old code back (stable codes on reload); the rest
take the next serials of their prefix. Serial counters are bumped with
``INSERT … ON CONFLICT DO UPDATE``, which row-locks each prefix until the load commits, so two
concurrent loads can never hand out the same serial. The bump is the load's own: a load that
rolls back takes its counters back with it, so its serials — never committed, never seen by
anyone — are issued by the next load; a committed code is never issued again.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from cim.coding.scheme import COMPONENT_SERIAL_WIDTH, FEATURE_SERIAL_WIDTH
from cim.errors import CodeError


@dataclass
class Allocation:
    reused: int
    issued: int


#: the length of a prefix whose codes take serials of a width: district 6 + layer 2 + class 2
#: (an 18-digit feature code) or district 6 + subclass 4 (a 16-digit component code)
PREFIX_LENGTH = {FEATURE_SERIAL_WIDTH: 10, COMPONENT_SERIAL_WIDTH: 10}


def check_prefixes(prefixes, serial_width: int, layer: str | None = None) -> None:
    """Refuse a prefix that would make a code the scheme cannot read: every prefix is all
    digits and as long as its codes' kind needs (:data:`PREFIX_LENGTH`). A class or layer code
    of a city's dictionary that is not two digits (a CSV saved by Excel loses the leading
    zero: 01 → 1) made 17-digit codes, issued and registered, that no reader decodes."""
    want = PREFIX_LENGTH.get(serial_width)
    for prefix in prefixes:
        if prefix is None or not str(prefix).isdigit() or (
                want is not None and len(str(prefix)) != want):
            what = f" of layer {layer}" if layer else ""
            raise CodeError(
                f"code prefix {prefix!r}{what} is not {want} digits (district 6 + layer 2 + "
                "class 2, or district 6 + component subclass 4): a code in the layers or "
                "class dictionary (layers.csv, the layer's class dictionary) is not written "
                "with its digits — a dictionary saved by Excel loses leading zeros (01 → 1); "
                "no code was issued")


def allocate_codes(conn: psycopg.Connection, staging: str, layer: str, serial_width: int,
                   batch_id: int | None, where: str = "TRUE") -> Allocation:
    """Give every staged row satisfying ``where`` (trusted SQL) a code; return counts."""
    stg = sql.Identifier(staging)
    cond = sql.SQL(where)
    reused = conn.execute(sql.SQL(
        "UPDATE {stg} s SET code = r.code FROM code_registry r "
        "WHERE r.layer = %(layer)s AND r.source_key = s.source_key AND s.code IS NULL AND {cond}"
    ).format(stg=stg, cond=cond), {"layer": layer}).rowcount

    conn.execute("DROP TABLE IF EXISTS _cim_alloc")
    conn.execute("CREATE TEMP TABLE _cim_alloc (prefix text PRIMARY KEY, base bigint, top bigint)")
    # prefixes are bumped in sorted order so concurrent loads lock them in the same order
    conn.execute(sql.SQL(
        "WITH need AS (SELECT prefix, count(*) AS n FROM {stg} "
        "              WHERE code IS NULL AND {cond} GROUP BY prefix), "
        "bump AS (INSERT INTO code_counters AS c (prefix, last_serial) "
        "         SELECT prefix, n FROM need ORDER BY prefix "
        "         ON CONFLICT (prefix) DO UPDATE SET last_serial = c.last_serial + excluded.last_serial "
        "         RETURNING prefix, last_serial) "
        "INSERT INTO _cim_alloc SELECT b.prefix, b.last_serial - n.n, b.last_serial "
        "FROM bump b JOIN need n USING (prefix)"
    ).format(stg=stg, cond=cond))
    # the prefixes checked once bumped (the few of the load; an error rolls the bump back)
    check_prefixes([p for (p,) in conn.execute("SELECT prefix FROM _cim_alloc")],
                   serial_width, layer)
    over = conn.execute("SELECT prefix, top FROM _cim_alloc WHERE top >= %s",
                        (10 ** serial_width,)).fetchone()
    if over:
        raise CodeError(f"serials of prefix {over[0]} are exhausted ({over[1]} > "
                        f"{10 ** serial_width - 1})")
    issued = conn.execute(sql.SQL(
        "UPDATE {stg} s SET code = a.prefix || lpad((a.base + q.rn)::text, %(w)s, '0') "
        "FROM (SELECT row_no, prefix, row_number() OVER (PARTITION BY prefix ORDER BY row_no) AS rn "
        "      FROM {stg} WHERE code IS NULL AND {cond}) q "
        "JOIN _cim_alloc a USING (prefix) WHERE s.row_no = q.row_no"
    ).format(stg=stg, cond=cond), {"w": serial_width}).rowcount
    # a concurrent load may have registered the same source key first: keep its code
    registered = conn.execute(sql.SQL(
        "INSERT INTO code_registry (code, layer, source_key, district_code, class_code, batch_id) "
        "SELECT s.code, %(layer)s, s.source_key, left(s.prefix, 6), substr(s.prefix, 7), %(b)s "
        "FROM {stg} s WHERE s.code IS NOT NULL AND {cond} "
        "ON CONFLICT (layer, source_key) DO NOTHING"
    ).format(stg=stg, cond=cond), {"layer": layer, "b": batch_id}).rowcount
    if registered < issued:
        conn.execute(sql.SQL(
            "UPDATE {stg} s SET code = r.code FROM code_registry r WHERE r.layer = %(layer)s "
            "AND r.source_key = s.source_key AND r.code <> s.code AND {cond}"
        ).format(stg=stg, cond=cond), {"layer": layer})
    conn.execute("DROP TABLE IF EXISTS _cim_alloc")
    return Allocation(reused=reused, issued=issued)


def reserve_serials(conn: psycopg.Connection, counts: dict[str, int],
                    serial_width: int) -> dict[str, int]:
    """Take the next ``counts[prefix]`` serials of several prefixes at once, for writers that
    number rows themselves (a bulk load numbers its new rows ``base + 1 … base + n`` in row
    order); return ``base`` per prefix.

    The same counters and the same locking as :func:`allocate_codes`: one
    ``INSERT … ON CONFLICT DO UPDATE`` bumps every prefix, in sorted order, and row-locks it
    until the caller's transaction ends — concurrent loads never get the same serial, a load
    that rolls back never used any. The caller registers the codes it makes (code_registry).
    """
    prefixes = sorted(p for p, n in counts.items() if n > 0)
    if not prefixes:
        return {}
    check_prefixes(prefixes, serial_width)
    rows = conn.execute(
        "INSERT INTO code_counters AS c (prefix, last_serial) "
        "SELECT p, n FROM unnest(%s::text[], %s::int8[]) AS u(p, n) ORDER BY p "
        "ON CONFLICT (prefix) DO UPDATE SET last_serial = c.last_serial + excluded.last_serial "
        "RETURNING prefix, last_serial", (prefixes, [counts[p] for p in prefixes])).fetchall()
    base = {}
    for prefix, top in rows:
        if top >= 10 ** serial_width:
            raise CodeError(f"serials of prefix {prefix} are exhausted ({top} > "
                            f"{10 ** serial_width - 1})")
        base[prefix] = top - counts[prefix]
    return base
