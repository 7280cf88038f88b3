"""One batch of a source as the loaders take it: Arrow attributes converted to the object
arrays the converters expect only when asked for, geometries decoded from the WKB when first
used, row numbers kept through a subset (:meth:`Batch.take`). Read by
:func:`loaders.sources.read.iter_batches`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow
import pyarrow.compute
import shapely

from loaders.sources.marks import CLOSED
from loaders.sources.wkb import (
    faces_wkb,
    gdal_wkt,
    remember_straightened,
    straightened_rows,
)


def object_column(arr: pyarrow.Array) -> np.ndarray:
    """An Arrow column as the object array of pandas' values the converters take (NaN for a
    missing float, NaT, Timestamps) — except that an integer column with nulls keeps its
    integers, None where missing: pandas makes it float64, which rounded 18-digit Integer64
    ids (370811000000000001–004 all became 370811000000000000) and kept 7040 in attrs as
    7040.0."""
    return np.asarray(arr.to_pandas(integer_object_nulls=True), dtype=object)


# the largest integer every smaller one of which a float64 holds exactly
_FLOAT_EXACT = 2 ** 53


def _rounded_as_float(arr: pyarrow.Array) -> bool:
    """Whether pandas (``to_pandas``) would round a value of the integer column ``arr``:
    it has nulls (a column without is read as integers) and a value past 2^53."""
    if not pyarrow.types.is_integer(arr.type) or not arr.null_count \
            or arr.type.bit_width < 64 or arr.null_count == len(arr):
        return False
    lo, hi = pyarrow.compute.min_max(arr).values()
    return hi.as_py() > _FLOAT_EXACT or lo.as_py() < -_FLOAT_EXACT


# the flag of a row whose polygon ring was read closed (loaders.geometry.prepare)
RING_CLOSED_FLAG = "ring_closed"


def _close_rings(wkb: Any, geoms: np.ndarray) -> None:
    """Read again, closing its rings, each WKB GEOS refused (``on_invalid="ignore"`` gave
    None for WKB that is there): GDAL accepts a polygon ring whose last point is not its
    first (a GeoJSON or CSV WKT written by hand: "Non closed ring detected"), GEOS does not,
    and the feature came out with no geometry — rejected as having none, or "empty" to the
    approval check, while the same GeoJSON posted to its process is read closed by shapely.
    Closed here the same way (``on_invalid="fix"``, which closes rings and nothing else) and
    remembered (:func:`closed_rows`). A valid row costs one vectorised ``is_missing`` of the
    batch; only the missing ones are looked at, and only the refused ones decoded again."""
    missing = np.flatnonzero(shapely.is_missing(geoms))
    if not len(missing):
        return
    at = missing[np.fromiter((wkb[i] is not None for i in missing.tolist()), dtype=bool,
                             count=len(missing))]
    if not len(at):
        return
    fixed = shapely.from_wkb(np.asarray(wkb, dtype=object)[at], on_invalid="fix")
    done = []
    for i, g in zip(at.tolist(), fixed.tolist()):
        if g is not None:
            geoms[i] = g
            done.append(i)
    CLOSED.remember(geoms, done)


def closed_rows(geoms: np.ndarray) -> np.ndarray:
    """Positions in ``geoms`` of the geometries read closed from a polygon ring that was not
    (the same objects, as :attr:`Batch.geometries` gave them): for a reader to flag or note
    them."""
    return CLOSED.rows(geoms)


class _ArrowColumns(Mapping):
    """A record batch's attribute columns as object arrays (:func:`object_column`), each
    converted when first asked for: a converter that reads a text column in Arrow
    (``Batch.attribute``) never builds its 50,000 Python strings (pyarrow's ``to_pandas`` of
    a use or structure column: ~7 ms a batch, 0.14 s a million footprints, each)."""

    def __init__(self, attributes: pyarrow.RecordBatch) -> None:
        self._attributes = attributes
        self._names = attributes.schema.names
        self._done: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        col = self._done.get(name)
        if col is None:
            if name not in self._names:
                raise KeyError(name)
            col = self._done[name] = object_column(self._attributes.column(name))
        return col

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class Batch:
    """One batch of a source: columns, geometries and row numbers.

    The geometries are decoded from the source's WKB when first asked for: a reload that
    finds most rows unchanged by their fingerprint (which reads the WKB as it came) never
    decodes them, and a converter process never decodes another process's batches."""

    def __init__(self, first_row: int, columns: dict[str, np.ndarray] | None,
                 geometries: np.ndarray | None = None, rows: np.ndarray | None = None,
                 wkb: np.ndarray | None = None, arrow: pyarrow.RecordBatch | None = None,
                 attributes: pyarrow.RecordBatch | None = None,
                 wkb_arrow: pyarrow.Array | None = None,
                 geometry_text: pyarrow.Array | None = None,
                 geometry_field: str | None = None,
                 repeated_ids: np.ndarray | None = None) -> None:
        self.first_row = first_row  # 1-based row number of the first feature in the file
        # the attribute columns, converted from ``attributes`` (Arrow, geometry left out)
        # when first asked for: a reload that skips a batch's rows by their fingerprint
        # never converts them, and converts only the rows it takes
        self._columns = columns
        self._attributes = attributes
        self._geometries = geometries  # shapely geometries (None where missing)
        self.rows = rows  # 1-based row numbers when not consecutive (a subset)
        self.wkb = wkb  # the WKB as read (before faces_wkb), when known
        self.arrow = arrow  # the record batch as read, when this is one whole
        self._wkb_arrow = wkb_arrow  # the Arrow column ``wkb`` was converted from, if any
        # a CSV's geometry column (Source.geometry_field) and its text as delivered
        self.geometry_field = geometry_field
        self._geometry_text = geometry_text
        # a rejects export loaded again: where a row was rejected as a repeated source id
        # (its cim_reason duplicate_source_id; a bool a row, None: no such row)
        self.repeated_ids = repeated_ids
        if geometries is None and wkb is None:
            raise ValueError("a batch needs its geometries or their WKB")
        if columns is None and attributes is None:
            raise ValueError("a batch needs its columns or their Arrow record batch")

    @property
    def columns(self) -> Mapping[str, np.ndarray]:
        """Attribute columns as object arrays of pandas' values (NaN for a missing float,
        Timestamps; an integer column's exact integers, None where missing:
        :func:`object_column`), which the converters expect; each converted when first
        used."""
        if self._columns is None:
            self._columns = _ArrowColumns(self._attributes)
        return self._columns

    @property
    def wkb_arrow(self) -> pyarrow.Array | None:
        """The Arrow column :attr:`wkb` was converted from, when the batch holds it."""
        return self._wkb_arrow

    def attribute(self, name: str) -> pyarrow.Array | None:
        """One attribute as Arrow read it, when the batch holds it so (None otherwise). Not
        an integer column with nulls and a value past 2^53 (an 18-digit id): read through
        pandas (``to_pandas``, as an id's text is) it would be rounded to a float; its
        exact :attr:`columns` serve instead."""
        if self._attributes is None or name not in self._attributes.schema.names:
            return None
        col = self._attributes.column(name)
        return None if _rounded_as_float(col) else col

    def for_parser(self, name: str) -> Any:
        """Column ``name`` for a column parser (``loaders.fields``' ``texts``, ``numbers``;
        ``loaders.dates``' ``years``; ``loaders.column_values``' ``mapped``, ``distinct``): the
        Arrow array as read when it holds text or numbers — text parsed once per distinct
        value, numbers checked in NumPy, no Python object a row (~0.4 s a million rows of a
        name column) — else the object array of :attr:`columns`."""
        arr = self.attribute(name)
        if arr is not None and (pyarrow.types.is_string(arr.type)
                                or pyarrow.types.is_large_string(arr.type)
                                or pyarrow.types.is_integer(arr.type)
                                or pyarrow.types.is_floating(arr.type)):
            return arr
        return self.columns[name]

    @property
    def geometries(self) -> np.ndarray:
        """The features' shapely geometries: 3D solids as their faces, curves straightened by
        GDAL (:func:`loaders.sources.wkb.faces_wkb`; such a geometry is flagged by
        :func:`loaders.geometry.prepare`, see :attr:`straightened`)."""
        if self._geometries is None:
            wkb, straightened = faces_wkb(self.wkb, self._wkb_arrow, return_straightened=True)
            with np.errstate(invalid="ignore"):  # NaN coordinates are checked later
                self._geometries = shapely.from_wkb(wkb, on_invalid="ignore")
                _close_rings(wkb, self._geometries)
            if len(straightened):
                remember_straightened(self._geometries, straightened)
        return self._geometries

    @property
    def rings_closed(self) -> np.ndarray:
        """Positions of the features whose WKB held a polygon ring that was not closed, read
        closed (:func:`closed_rows`)."""
        return closed_rows(self.geometries)

    @property
    def straightened(self) -> np.ndarray:
        """Positions of the features read from curved geometries that GDAL straightened
        (``CURVE_FLAG``), for a reader that does not go through ``prepare``."""
        return straightened_rows(self.geometries)

    def __len__(self) -> int:
        return len(self.wkb) if self._geometries is None else len(self._geometries)

    def row(self, i: int) -> int:
        """The file's row number of the batch's ``i``-th feature."""
        return int(self.rows[i]) if self.rows is not None else self.first_row + int(i)

    def take(self, idx: np.ndarray) -> Batch:
        """The features at positions ``idx``, keeping their row numbers."""
        rows = (self.rows if self.rows is not None
                else self.first_row + np.arange(len(self)))[idx]
        lazy = self._columns is None or isinstance(self._columns, _ArrowColumns)
        return Batch(first_row=int(rows[0]) if len(rows) else self.first_row,
                     columns=None if lazy else {k: v[idx] for k, v in self._columns.items()},
                     attributes=self._attributes.take(pyarrow.array(idx, pyarrow.int64()))
                     if lazy else None,
                     geometries=None if self._geometries is None else self._geometries[idx],
                     rows=rows, wkb=None if self.wkb is None else self.wkb[idx],
                     geometry_text=None if self._geometry_text is None
                     else self._geometry_text.take(pyarrow.array(idx, pyarrow.int64())),
                     geometry_field=self.geometry_field,
                     repeated_ids=None if self.repeated_ids is None
                     else self.repeated_ids[idx])

    def positions(self, rows: list[int]) -> dict[int, int]:
        """{file row: position in the batch} of those of ``rows`` the batch holds."""
        if self.rows is None:
            n = len(self)
            return {r: r - self.first_row for r in rows if 0 <= r - self.first_row < n}
        want = set(rows)
        return {int(r): i for i, r in enumerate(self.rows.tolist()) if r in want}

    def refused_geometries(self, at: list[int]) -> dict[int, str]:
        """{position: GDAL's WKT of it} of the features at positions ``at`` GDAL read a
        geometry for that GEOS refuses even with its rings closed (a line of one point):
        they read as missing, and were rejected as having no geometry, the delivered one gone
        from the reject; a reject keeps this text (:func:`loaders.common.name_unread_geometries`).
        Only those positions' WKB is decoded (a reload decodes no batch it skips)."""
        if self.wkb is None or not at:
            return {}
        out: dict[int, str] = {}
        for i in at:
            w = self.wkb[i]
            if w is None or not len(w) or shapely.from_wkb(bytes(w), on_invalid="fix") \
                    is not None:
                continue
            text = gdal_wkt(bytes(w))
            if text:
                out[i] = text
        return out

    def curved(self, at: list[int]) -> list[int]:
        """The positions of ``at`` whose delivered geometry holds a curve (GDAL straightens
        it), from their WKB alone."""
        if self.wkb is None or not at:
            return []
        _w, straightened = faces_wkb(np.asarray([self.wkb[i] for i in at], dtype=object),
                                     None, return_straightened=True)
        return [at[j] for j in np.asarray(straightened, dtype=int).tolist()]

    def unread_geometries(self) -> dict[int, str]:
        """{position: the text as delivered} of the features whose geometry column
        (:attr:`geometry_field`, a CSV's WKT) holds text GDAL read no geometry from —
        ``POINT (1 2`` without its bracket, ``POINT (1, 2)``, a bare ``1 2``. They read as a
        missing geometry; this tells them from a blank cell, for a rejection as
        ``invalid_geometry`` naming the field and keeping the text. Empty for any other
        source."""
        if self._geometry_text is None:
            return {}
        if self._wkb_arrow is not None:
            missing = self._wkb_arrow.is_null().to_numpy(zero_copy_only=False)
        elif self.wkb is not None:
            missing = np.fromiter((w is None for w in self.wkb), dtype=bool, count=len(self))
        else:
            missing = shapely.is_missing(self.geometries)
        at = np.flatnonzero(missing)
        if not len(at):
            return {}
        texts = self._geometry_text.take(pyarrow.array(at, pyarrow.int64())).to_pylist()
        return {int(i): t for i, t in zip(at.tolist(), texts)
                if isinstance(t, str) and t.strip()}
