"""The JSON of pipe rows' ``attrs``, built column by column.

A delivery's rows share their keys a table at a time; encoding each row's dict with
``json.dumps`` cost a Python call per value. Here a table's rows are encoded as columns — a
text once per distinct value, a number by its repr — and each row's text is exactly what
``json.dumps(attrs, ensure_ascii=False, default=str)`` writes for it, its keys in jsonb's order
(:mod:`loaders.jsonb`; tests/test_pipe_write_attrs.py).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # what _ENCODER writes a text with
from typing import Any

from loaders.jsonb import ordered, ordered_keys
from loaders.pipes.records import RowAttrs

# json.dumps(v, ensure_ascii=False, default=str) builds this encoder on every call
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _dumps(v) -> str:
    return _ENCODER.encode(v)


# JSON of a value by its repr: numbers (finite floats, ints), None, booleans
_REPR_JSON = {"None": "null", "True": "true", "False": "false", "nan": "NaN",
              "inf": "Infinity", "-inf": "-Infinity"}
_NUMBERS = {int, float, bool, type(None)}
_TEXTS = {str, type(None)}


def _json_column(prefix: str, col: tuple) -> list[str]:
    """``prefix`` + the JSON text of each value, as :data:`_ENCODER` writes it inside an
    object: texts encoded once per distinct value, numbers by their repr (what the encoder
    writes), anything else value by value."""
    types = set(map(type, col))
    if types <= _TEXTS:  # equal texts are one JSON text (no 1 == 1.0 == True to merge)
        distinct = set(col)
        distinct.discard(None)
        texts = list(distinct)
        enc = dict(zip(texts, [prefix + t for t in map(encode_basestring, texts)]))
        enc[None] = prefix + "null"
        return list(map(enc.__getitem__, col))
    if types <= _NUMBERS:
        fix = _REPR_JSON.get
        return [prefix + fix(r, r) for r in map(repr, col)]
    return [prefix + _ENCODER.encode(v) for v in col]


def attrs_texts(attrs: list[dict[str, Any] | RowAttrs]) -> list[str]:
    """``_dumps(a)`` of each row's attributes with its keys in jsonb's order (the text the
    server gives back: :mod:`loaders.jsonb`), built column by column: the rows that share
    their keys (in order; one table's rows) are encoded as columns."""
    return attrs_texts_and_compared(attrs, ())[0]


def attrs_texts_and_compared(attrs: list[dict[str, Any] | RowAttrs], leave_out: tuple[str, ...]
                             ) -> tuple[list[str], list[str]]:
    """:func:`attrs_texts`, and the same texts without the keys ``leave_out`` (what a reload
    compares: :attr:`loaders.engine.known.Known.attrs_skip`), from the same encoded values."""
    out: list[str | None] = [None] * len(attrs)
    cmp: list[str | None] = out if not leave_out else [None] * len(attrs)
    groups: dict[tuple, list[int]] = {}
    for i, keys in enumerate(a.names() if isinstance(a, RowAttrs) else tuple(a)
                             for a in attrs):
        groups.setdefault(keys, []).append(i)
    for keys, rows in groups.items():
        if not keys or len(rows) < 16 or not all(isinstance(k, str) for k in keys) \
                or len(set(keys)) < len(keys):
            for i in rows:
                a = dict(attrs[i])
                a = ordered(a) if all(isinstance(k, str) for k in a) else a
                out[i] = _dumps(a)
                if leave_out:
                    cmp[i] = _dumps({k: v for k, v in a.items() if k not in leave_out})
            continue
        values = dict(zip(keys, zip(*[attrs[i].row() if isinstance(attrs[i], RowAttrs)
                                      else tuple(attrs[i].values()) for i in rows])))
        order = ordered_keys(keys)
        frags = [_json_column(_ENCODER.encode(k) + ": ", values[k]) for k in order]
        for i, text in zip(rows, ("{" + ", ".join(t) + "}" for t in zip(*frags))):
            out[i] = text
        if leave_out:
            kept = [f for k, f in zip(order, frags) if k not in leave_out]
            for i, text in zip(rows, ("{" + ", ".join(t) + "}" for t in zip(*kept))
                               if kept else ["{}"] * len(rows)):
                cmp[i] = text
    return out, cmp  # type: ignore[return-value]
