"""The COPY buffers of a direct batch (:mod:`loaders.engine.direct`): the layer's rows and the
registry's rows, assembled from whole columns with :mod:`loaders.engine.copybuf`.

Kept apart from the converter's decisions so that both stay small. Everything here works on
columns (NumPy fancy indexing, Arrow ``take``): the converter's CPU is the bulk load's
bottleneck, and a Python call per row costs as much as the rest of the assembly.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import numpy as np

from cim.layerdefs import LayerDef
from loaders.engine import copybuf

_FIELDS = {"int2": copybuf.int2, "int4": copybuf.int4, "int8": copybuf.int8,
           "float8": copybuf.float8, "text": copybuf.text, "date": copybuf.date}


def _field(pgtype: str, v: np.ndarray) -> copybuf.Field:
    try:
        return _FIELDS[pgtype](v)
    except KeyError:
        raise ValueError(f"column type {pgtype} is not written by the direct path") from None


def _take(items: list, idx: np.ndarray, whole: bool) -> list:
    """``[items[i] for i in idx]`` in C (the whole list when every row is taken)."""
    if whole:
        return items
    if len(idx) == 0:
        return []
    got = itemgetter(*idx.tolist())(items)
    return [got] if len(idx) == 1 else list(got)


def layer_rows(layer: LayerDef, batch_id: int, conv: Any, w: np.ndarray, code: np.ndarray,
               keys: np.ndarray, dist: np.ndarray, grid: np.ndarray
               ) -> tuple[bytearray, np.ndarray]:
    """The layer's rows ``w`` of a converted batch (:class:`loaders.engine.direct.Converted`),
    in :func:`loaders.engine.direct.layer_copy_columns` order: (data, start of each row)."""
    n = len(conv.index)
    whole = len(w) == n  # every row written: no row to leave out of any column

    def sel(v: np.ndarray) -> np.ndarray:
        return v if whole else v[w]

    fields = [copybuf.text(sel(code)), copybuf.text(sel(keys)),
              copybuf.int8(np.full(len(w), batch_id, dtype=np.int64)),
              copybuf.text(sel(conv.row_hash)), copybuf.int8(sel(conv.source_hash)),
              copybuf.text_array(_take(conv.flags, w, whole)),
              copybuf.jsonb(_take(conv.attrs, w, whole)), copybuf.binary(sel(conv.ewkb))]
    derived = {"district_code": dist, "grid_code": grid}
    types = {c.name: c.pgtype for c in layer.columns}
    for c in layer.column_names():
        v = derived[c] if c in derived and c in layer.derived_columns() else conv.columns[c]
        fields.append(_field(types[c], sel(np.asarray(v, dtype=object))))
    return copybuf.rows(fields, len(w))


def registry_rows(layer: LayerDef, batch_id: int, codes: np.ndarray, keys: np.ndarray,
                  prefixes: list[str], pidx: np.ndarray) -> tuple[bytearray, np.ndarray]:
    """The registry's rows of new codes (``REGISTRY_COLUMNS`` order): a code's district and
    class are its prefix's first six characters and the rest, one string per distinct
    prefix (``prefixes[pidx]``)."""
    n = len(codes)
    return copybuf.rows([copybuf.text(codes),
                         copybuf.text_take([layer.name], np.zeros(n, dtype=np.int64)),
                         copybuf.text(keys),
                         copybuf.text_take([p[:6] for p in prefixes], pidx),
                         copybuf.text_take([p[6:] for p in prefixes], pidx),
                         copybuf.int8(np.full(n, batch_id, dtype=np.int64))], n)
