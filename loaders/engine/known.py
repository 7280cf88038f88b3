"""What a direct write is told before it converts: the layer's current versions and
registered codes of the delivery's dataset (:class:`Known`), and the current districts and grid
cells (:class:`Areas`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import psycopg
import shapely
from psycopg import sql

from cim.errors import DatabaseError
from cim.layerdefs import LayerDef


@dataclass
class Known:
    """What the layer holds for the delivery's dataset when the load starts, compactly (a
    million features: the keys in one dict, hashes and codes in fixed-width arrays)."""

    index: dict[str, int]  # source key → row of the arrays below
    row_hash: np.ndarray  # "S64": hash of the current version; b"" for a key coded before
    code: np.ndarray  # "S24": its code
    current: int  # how many keys have a current version
    # the current version's source fingerprint (int64; 0: none kept) and its flags where it has
    # any: what a reload reports for a row it skips unconverted (migration 0009)
    source_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    flags: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Known:
        return cls({}, np.zeros(0, "S64"), np.zeros(0, "S24"), 0)


@dataclass
class Areas:
    """Current districts and grid cells (storage CRS), sorted by code."""

    district_codes: list[str]
    districts: np.ndarray
    grid_codes: list[str]
    grid: np.ndarray


def like_prefix(dataset: str) -> str:
    """The LIKE pattern of the dataset's source keys (``dataset:…``)."""
    return dataset.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + ":%"


def fetch_known(conn: psycopg.Connection, layer: LayerDef, dataset: str) -> Known:
    """Current versions and registered codes of the dataset's source keys (call it with the
    merge lock held, so that nothing commits in between).

    Each column comes as one aggregated value (the keys and codes newline-joined, the hashes
    concatenated, the fingerprints one bigint array), split in C: a million keys in ~1.7 s,
    where a row per key cost a Python call each (8 s as a text COPY, 4.9 s fetched). Keys
    and codes hold no newline (a key is ``dataset:id``; an id with one is refused)."""
    tbl = sql.Identifier(layer.table)
    like = sql.Literal(like_prefix(dataset))
    parallel = conn.execute("SELECT current_setting('max_parallel_workers_per_gather')"
                            ).fetchone()[0]
    # one Agg node feeds every row to all the aggregates in turn, so they list the rows in one
    # order; parallel partial aggregates would not
    conn.execute("SELECT set_config('max_parallel_workers_per_gather', '0', false)")
    try:
        with conn.cursor(binary=True) as cur:
            keys, hashes, codes, fps, flagged = cur.execute(sql.SQL(
                "SELECT string_agg(source_key, chr(10)), "
                "string_agg(coalesce(row_hash, repeat('-', 64)), ''), "
                "string_agg(code, chr(10)), array_agg(coalesce(source_hash, 0)), "
                "string_agg(array_to_string(flags, chr(31)), chr(10)) "
                "FROM {} WHERE valid_to IS NULL AND source_key LIKE {}"
            ).format(tbl, like)).fetchone()
            old_keys, old_codes = cur.execute(sql.SQL(
                "SELECT string_agg(source_key, chr(10)), string_agg(code, chr(10)) "
                "FROM (SELECT r.source_key, r.code FROM code_registry r WHERE r.layer = {} "
                "      AND r.source_key LIKE {} AND NOT EXISTS (SELECT 1 FROM {} l WHERE "
                "      l.valid_to IS NULL AND l.source_key = r.source_key) ORDER BY r.code) k"
            ).format(sql.Literal(layer.name), like, tbl)).fetchone()
    finally:
        conn.execute("SELECT set_config('max_parallel_workers_per_gather', %s, false)",
                     (parallel,))
    key_list = keys.split("\n") if keys is not None else []
    current = len(key_list)
    if old_keys is not None:
        old = old_keys.split("\n")
        key_list += old
        codes = (codes + "\n" + old_codes) if codes is not None else old_codes
    n = len(key_list)
    if current and (hashes is None or len(hashes) != 64 * current):
        raise ValueError("a current version without a 64-character row hash")
    row_hash = np.zeros(n, dtype="S64")
    if current:
        row_hash[:current] = np.frombuffer(hashes.encode("ascii"), dtype="S64")
    flags: dict[int, list[str]] = {}
    if flagged and len(flagged) >= current:  # one line a row, mostly empty
        lines = flagged.split("\n")
        flags = {i: lines[i].split("\x1f") for i in np.flatnonzero(
            np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))).tolist()}
    source_hash = np.zeros(n, dtype=np.int64)
    if current:
        source_hash[:current] = np.array(fps, dtype=np.int64)
    return Known(index=dict(zip(key_list, range(n))), row_hash=row_hash,
                 code=np.array(codes.split("\n") if n else [], dtype="S24"), current=current,
                 source_hash=source_hash, flags=flags)


def fetch_areas(conn: psycopg.Connection, layer: LayerDef) -> Areas:
    if layer.assign_district and not conn.execute(
            "SELECT EXISTS (SELECT 1 FROM admin_divisions WHERE valid_to IS NULL "
            "AND level = 3)").fetchone()[0]:
        raise DatabaseError("no district boundaries in the database: run "
                            "`cim profile apply` to load the profile's boundaries first")

    def read(query: str) -> tuple[list[str], np.ndarray]:
        rows = conn.execute(query).fetchall()
        return [r[0] for r in rows], shapely.from_wkb([bytes(r[1]) for r in rows]) \
            if rows else np.array([], dtype=object)

    dc, dg = read("SELECT code, ST_AsBinary(geom) FROM admin_divisions WHERE valid_to IS NULL "
                  "AND level = 3 ORDER BY code COLLATE \"C\"") if layer.assign_district \
        else ([], np.array([], dtype=object))
    gc, gg = read("SELECT code, ST_AsBinary(geom) FROM grid_cells WHERE valid_to IS NULL "
                  "ORDER BY code COLLATE \"C\"") if layer.assign_grid \
        else ([], np.array([], dtype=object))
    return Areas(district_codes=dc, districts=dg, grid_codes=gc, grid=gg)
