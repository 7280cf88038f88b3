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
import pandas as pd
import pyarrow as pa

from cim.layerdefs import LayerDef
from loaders.engine import copybuf

_FIELDS = {"int2": copybuf.int2, "int4": copybuf.int4, "int8": copybuf.int8,
           "float8": copybuf.float8, "text": copybuf.text, "date": copybuf.date}


def _field(pgtype: str, v: np.ndarray) -> copybuf.Field:
    try:
        return _FIELDS[pgtype](v)
    except KeyError:
        raise ValueError(f"column type {pgtype} is not written by the direct path") from None


def _take(items: list | pa.Array, idx: np.ndarray, whole: bool) -> list | pa.Array:
    """``[items[i] for i in idx]`` in C (the whole list when every row is taken; an Arrow
    array's take)."""
    if whole:
        return items
    if isinstance(items, pa.Array):
        return items.take(pa.array(idx, pa.int64()))
    if len(idx) == 0:
        return []
    got = itemgetter(*idx.tolist())(items)
    return [got] if len(idx) == 1 else list(got)


def batch_rows(layer: LayerDef, batch_id: int, conv: Any, w: np.ndarray, code: np.ndarray,
               keys: np.ndarray, dist: np.ndarray, grid: np.ndarray, new: np.ndarray,
               prefixes: list[str], pidx: np.ndarray
               ) -> tuple[tuple[memoryview, np.ndarray], tuple[memoryview, np.ndarray]]:
    """The COPY data of a converted batch (:class:`loaders.engine.converted.Converted`), each as
    (data: a view of the batch's own Arrow buffer, start of each row):

    - the layer's rows ``w``, in :func:`loaders.engine.direct.layer_copy_columns` order;
    - the registry's rows (``REGISTRY_COLUMNS`` order) of the new codes: the layer's rows
      ``new`` (positions among ``w``), whose prefix is ``prefixes[pidx]``; code and key are
      taken from the layer's Arrow columns, district and class (the prefix's first six
      characters and the rest) built once per distinct prefix.

    District and grid cell (derived from the areas: a few distinct codes) are built once per
    distinct value too."""
    n = len(conv.index)
    whole = len(w) == n  # every row written: no row to leave out of any column

    def sel(v: Any) -> Any:
        if whole:
            return v
        return v.take(pa.array(w)) if isinstance(v, (pa.Array, pa.ChunkedArray)) else v[w]

    code_a, key_a = copybuf.strings(sel(code)), copybuf.strings(sel(keys))
    fields = [copybuf.text(code_a), copybuf.text(key_a),
              copybuf.int8(np.full(len(w), batch_id, dtype=np.int64)),
              copybuf.text(sel(conv.row_hash)), copybuf.int8(sel(conv.source_hash)),
              copybuf.text_array(_take(conv.flags, w, whole)),
              copybuf.jsonb(_take(conv.attrs, w, whole)), copybuf.binary(sel(conv.ewkb))]
    derived = {"district_code": dist, "grid_code": grid}
    types = {c.name: c.pgtype for c in layer.columns}
    for c in layer.column_names():
        if c in derived and c in layer.derived_columns():
            fields.append(_few(sel(derived[c])))
            continue
        v = conv.columns[c]
        fields.append(_field(types[c], sel(v if isinstance(v, (pa.Array, pa.ChunkedArray))
                                           else np.asarray(v, dtype=object))))
    m = len(new)
    at = pa.array(new)
    reg = [copybuf.text(code_a.take(at)),
           copybuf.text_take([layer.name], np.zeros(m, dtype=np.int64)),
           copybuf.text(key_a.take(at)),
           copybuf.text_take([p[:6] for p in prefixes], pidx),
           copybuf.text_take([p[6:] for p in prefixes], pidx),
           copybuf.int8(np.full(m, batch_id, dtype=np.int64))]
    return copybuf.rows(fields, len(w), copy=False), copybuf.rows(reg, m, copy=False)


def _few(values: np.ndarray) -> copybuf.Field:
    """A text field of str/None values of few distinct ones, built from the distinct ones."""
    idx, uniq = pd.factorize(values)
    return copybuf.text_take(list(uniq), idx)
