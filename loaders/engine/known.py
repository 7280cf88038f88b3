"""What a direct write is told before it converts: the layer's current versions and
registered codes of the delivery's dataset (:class:`Known`), and the current districts and grid
cells (:class:`Areas`)."""

from __future__ import annotations

from collections.abc import Iterator
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


def _copy_lines(conn: psycopg.Connection, query: sql.Composable) -> Iterator[list[str]]:
    """The rows of a text COPY TO, split into fields, chunk by chunk (never all at once)."""
    rest = b""
    with conn.cursor().copy(query) as cp:
        for data in cp:
            lines = (rest + bytes(data)).split(b"\n")
            rest = lines.pop()
            yield [line.decode("utf-8").split("\t") for line in lines]
    if rest:
        yield [rest.decode("utf-8").split("\t")]


def fetch_known(conn: psycopg.Connection, layer: LayerDef, dataset: str) -> Known:
    """Current versions and registered codes of the dataset's source keys (call it with the
    merge lock held, so that nothing commits in between)."""
    tbl = sql.Identifier(layer.table)
    like = sql.Literal(like_prefix(dataset))
    index: dict[str, int] = {}
    hashes: list[bytes] = []
    codes: list[bytes] = []
    fps: list[int] = []
    flags: dict[int, list[str]] = {}
    for rows in _copy_lines(conn, sql.SQL(
            "COPY (SELECT source_key, row_hash, code, coalesce(source_hash, 0), "
            "CASE WHEN cardinality(flags) > 0 THEN array_to_string(flags, chr(31)) END "
            "FROM {} WHERE valid_to IS NULL AND source_key LIKE {}) TO STDOUT").format(
                tbl, like)):
        for k, h, c, fp, fl in rows:
            if fl != "\\N":
                flags[len(hashes)] = _unescape(fl).split("\x1f")
            index[_unescape(k)] = len(hashes)
            hashes.append(h.encode())
            codes.append(c.encode())
            fps.append(int(fp))
    current = len(hashes)
    for rows in _copy_lines(conn, sql.SQL(
            "COPY (SELECT r.source_key, r.code FROM code_registry r WHERE r.layer = {} "
            "AND r.source_key LIKE {} AND NOT EXISTS (SELECT 1 FROM {} l WHERE "
            "l.valid_to IS NULL AND l.source_key = r.source_key)) TO STDOUT").format(
                sql.Literal(layer.name), like, tbl)):
        for k, c in rows:
            index[_unescape(k)] = len(hashes)
            hashes.append(b"")
            codes.append(c.encode())
            fps.append(0)
    return Known(index=index, row_hash=np.array(hashes, dtype="S64"),
                 code=np.array(codes, dtype="S24"), current=current,
                 source_hash=np.array(fps, dtype=np.int64), flags=flags)


def _unescape(s: str) -> str:
    """A text COPY value back as it was (keys rarely hold a backslash or a tab)."""
    if "\\" not in s:
        return s
    out, i = [], 0
    esc = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "b": "\b", "f": "\f", "v": "\v"}
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            out.append(esc.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


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
