"""Staged rows built by column name, never by position.

A converter hands the bulk writer a :class:`StagedRows`: one array per staging column, named.
The names are checked against the layer's staging columns (:func:`staging_columns`, derived
from ``cim.layerdefs``), so adding, removing or reordering a declared column cannot silently
shift values into the wrong column: a converter that misses a column or names an unknown one
stops with a :class:`RowShapeError` (a bug, not bad input). Rows stay columns until COPY zips
them, so building a batch costs no per-row dict.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cim.layerdefs import LayerDef

# what the writer needs besides the layer's own columns (see BulkWriter.finalize)
BASE_COLUMNS = [("row_no", "int4"), ("source_key", "text"), ("row_hash", "text"),
                ("attrs", "jsonb"), ("flags", "text[]"), ("geom", "geometry"),
                ("class_code", "text"), ("code", "text")]


# The geometry as delivered: WKT in the delivery's CRS and axis order, as a converter's own
# rejects keep it (loaders.common.delivered_wkt), None where the row has no geometry of its
# own (a population row of a statistics table, a sensor placed at its asset). A column of the
# staging table, not of the layer: the rejects the SQL merge decides (duplicate_source_id,
# outside_area, no_grid_cell, already_loaded) record it, never the converted geometry. Rows
# of a staged load carry it (StagedRows(layer, delivered=True)); the writer refuses to merge
# rows without it.
DELIVERED = ("delivered_wkt", "text")


class RowShapeError(TypeError):
    """A converter built rows whose columns do not match the layer's staging table."""


def staging_columns(layer: LayerDef) -> list[tuple[str, str]]:
    """(name, type) of every column of the layer's staging table, in COPY order."""
    return BASE_COLUMNS + [(c.name, c.pgtype) for c in layer.columns]


def left_out(layer: LayerDef) -> set[str]:
    """Staging columns a converter never gives: filled by the writer or unused by the scheme.

    ``code`` is allocated by the writer unless the codes come with the data (admin, grid);
    ``class_code`` (the class part of allocated codes) is unused when they do; district and
    grid cell are spatial joins of the writer where the layer assigns them.
    """
    official = layer.code_scheme in ("admin", "grid")
    return layer.derived_columns() | ({"class_code"} if official else {"code"})


def given_columns(layer: LayerDef) -> list[str]:
    """The staging columns a converter must give, exactly, in COPY order."""
    out = left_out(layer)
    return [n for n, _ in staging_columns(layer) if n not in out]


def _mismatch(layer: LayerDef, expected: Sequence[str], got) -> RowShapeError:
    missing = [n for n in expected if n not in got]
    unknown = sorted(set(got) - set(expected))
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if unknown:
        why = {n: " (filled by the writer)" for n in left_out(layer)}
        parts.append("unknown " + ", ".join(n + why.get(n, "") for n in unknown))
    return RowShapeError(f"rows for layer {layer.name}: " + "; ".join(parts))


def layer_values(layer: LayerDef, values: Mapping[str, Any]) -> tuple:
    """The layer's own columns of one row, in declaration order (the content hash input).

    ``values`` must name every column of the layer a converter gives (the writer's derived
    district and grid cell may be left out: they are None here); an unknown name is a bug.
    """
    derived = layer.derived_columns()
    names = layer.column_names()
    if any(n not in values and n not in derived for n in names) or \
            any(k not in names for k in values):
        raise _mismatch(layer, [n for n in names if n not in derived], values)
    return tuple(values.get(n) for n in names)


class StagedRows:
    """Rows for one layer's staging table, held as named columns. With ``delivered`` every
    row also gives :data:`DELIVERED` (its geometry as delivered, for the merge's rejects)."""

    def __init__(self, layer: LayerDef, delivered: bool = False) -> None:
        self.layer = layer
        self.delivered = delivered
        self.names = given_columns(layer) + ([DELIVERED[0]] if delivered else [])
        self._expected = set(self.names)
        self.columns: dict[str, Sequence[Any]] = {n: [] for n in self.names}
        self._n = 0

    @classmethod
    def from_columns(cls, layer: LayerDef, columns: Mapping[str, Sequence[Any]],
                     delivered: bool = False) -> StagedRows:
        """Rows from whole columns (arrays or lists of one length), checked by name."""
        rows = cls(layer, delivered)
        if columns.keys() != rows._expected:
            raise _mismatch(layer, rows.names, columns)
        lengths = {n: len(c) for n, c in columns.items()}
        if len(set(lengths.values())) > 1:
            raise RowShapeError(f"rows for layer {layer.name}: columns of different lengths "
                                f"{lengths}")
        rows.columns = {n: columns[n] for n in rows.names}
        rows._n = next(iter(lengths.values()), 0)
        return rows

    def append(self, **values: Any) -> None:
        """Add one row given as ``column=value`` (every column of :func:`given_columns`)."""
        if values.keys() != self._expected:
            raise _mismatch(self.layer, self.names, values)
        for n, col in self.columns.items():
            col.append(values[n])  # type: ignore[union-attr]
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> Sequence[Any]:
        return self.columns[name]

    def tuples(self, columns: Sequence[tuple[str, str]] | None = None) -> Iterator[tuple]:
        """The rows in staging (COPY) order — of ``columns`` ((name, type) in COPY order; by
        default the layer's :func:`staging_columns`); columns a converter leaves out are
        NULL."""
        cols = [self.columns[n] if n in self.columns else itertools.repeat(None, self._n)
                for n, _ in (columns if columns is not None else staging_columns(self.layer))]
        return zip(*cols)
