"""The direct write's COPY buffers and code prefixes (loaders/engine/copybuf.py, rowsbuf.py,
direct.py) against plain per-row recipes written here: PostgreSQL's binary COPY row format
packed value by value, prefixes formatted row by row. No database needed."""

from __future__ import annotations

import datetime as dt
import struct

import numpy as np
import pytest

from cim.layerdefs import BUILDINGS
from loaders.engine import copybuf
from loaders.engine.direct import DirectConverter, _ranks, _stable_order
from loaders.engine.known import Known
from loaders.engine.places import Areas

# -- the plain recipe: one row at a time, one value at a time ----------------------------------


def _text_array(items):
    if not items:
        return struct.pack(">iii", 0, 0, 25)
    out = struct.pack(">iiiii", 1, 0, 25, len(items), 1)
    for s in items:
        out += struct.pack(">i", len(s.encode())) + s.encode()
    return out


PAYLOAD = {
    "text": lambda v: v.encode("utf-8"),
    "binary": lambda v: v,
    "jsonb": lambda v: b"\x01" + v.encode("utf-8"),
    "int2": lambda v: struct.pack(">h", v),
    "int4": lambda v: struct.pack(">i", v),
    "int8": lambda v: struct.pack(">q", v),
    "float8": lambda v: struct.pack(">d", v),
    "date": lambda v: struct.pack(">i", (v - dt.date(2000, 1, 1)).days),
    "text_array": _text_array,
}


def plain_rows(columns: list[tuple[str, list]]) -> tuple[bytes, list[int]]:
    n = len(columns[0][1])
    out, starts = b"", []
    for i in range(n):
        starts.append(len(out))
        out += struct.pack(">h", len(columns))
        for kind, values in columns:
            v = values[i]
            if v is None:
                out += struct.pack(">i", -1)
            else:
                p = PAYLOAD[kind](v)
                out += struct.pack(">i", len(p)) + p
    return out, starts


FIELD = {"text": copybuf.text, "binary": copybuf.binary, "jsonb": copybuf.jsonb,
         "int2": copybuf.int2, "int4": copybuf.int4, "int8": copybuf.int8,
         "float8": copybuf.float8, "date": copybuf.date, "text_array": copybuf.text_array}


def _obj(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _field(kind: str, values: list):
    if kind == "text_array":
        return FIELD[kind](values)
    return FIELD[kind](_obj(values))


# every kind of piece: payloads of one length on every row (fixed pieces), of several lengths,
# all NULL, all empty, numbers with and without NULL, jsonb with and without NULL, text[] all
# empty and mixed, neighbouring fixed pieces of several fields
COLUMNS = [
    ("text", ["AB000000", "CD000000", "EF000000", "GH000000"]),   # one length
    ("int8", [7, 7, 7, 7]),
    ("text", ["建筑", None, "", "x\\y\tz"]),
    ("int4", [1, -3, 2**31 - 1, 0]),
    ("float8", [1.5, -0.0, 1e-7, 3.25]),
    ("text", [None, None, None, None]),                       # all NULL
    ("text", ["", "", "", ""]),                                # all empty
    ("int4", [5, None, -1, None]),
    ("jsonb", ["{}", '{"a": 1}', "[]", '{"名": "x"}']),
    ("jsonb", ['{"a": 1}', None, "{}", None]),
    ("text_array", [[], [], [], []]),
    ("text_array", [[], ["x", "y"], [], ["geometry_repaired"]]),
    ("binary", [b"\x01\x02", b"", None, b"\x00" * 9]),
    ("date", [dt.date(2000, 1, 1), dt.date(1969, 12, 31), dt.date(2026, 12, 2),
              dt.date(1, 1, 1)]),
    ("date", [None, dt.date(2001, 1, 1), None, dt.date(1999, 12, 31)]),
    ("int2", [1, 2, 3, 4]),
    ("text", ["370811", "370811", "370812", "370813"]),       # a district: one length
    # repeated dates: each distinct one turned into days once (copybuf._days)
    ("date", [dt.date(2021, 5, 12), None, dt.date(1969, 12, 31), dt.date(1969, 12, 31)]),
]


def test_rows_are_the_plain_recipe_byte_for_byte():
    data, starts = copybuf.rows([_field(k, v) for k, v in COLUMNS], 4)
    want, want_starts = plain_rows(COLUMNS)
    assert isinstance(data, bytearray)
    assert bytes(data) == want
    assert starts.tolist() == want_starts


@pytest.mark.parametrize("cut", [1, 2, 5, 9, len(COLUMNS)])
def test_rows_of_fewer_fields_and_a_single_fixed_run(cut):
    cols = COLUMNS[:cut]
    data, starts = copybuf.rows([_field(k, v) for k, v in cols], 4)
    want, want_starts = plain_rows(cols)
    assert bytes(data) == want and starts.tolist() == want_starts
    # only fixed-width fields: no join at all
    fixed = [COLUMNS[1], COLUMNS[3], COLUMNS[15]]
    assert bytes(copybuf.rows([_field(k, v) for k, v in fixed], 4)[0]) == plain_rows(fixed)[0]


def test_text_take_is_the_values_it_names_null_for_minus_one():
    got = copybuf.rows([copybuf.text_take(["81", "中", "x"], np.array([2, -1, 0, 1, 0]))], 5)[0]
    assert bytes(got) == plain_rows([("text", ["x", None, "81", "中", "81"])])[0]


def test_patch_after_rows_writes_in_place():
    data, starts = copybuf.rows([copybuf.text(["AB0000", "CD0000"]), copybuf.int4([1, 2])], 2)
    copybuf.patch(data, starts + 6 + 2, copybuf.digits(np.array([42, 107]), 4))
    assert bytes(data) == plain_rows([("text", ["AB0042", "CD0107"]), ("int4", [1, 2])])[0]


# -- prefixes, ranks, registry order ----------------------------------------------------------


def _converter() -> DirectConverter:
    none = np.zeros(0, dtype=object)
    return DirectConverter(BUILDINGS, "81", lambda b: None, Known.empty(),
                           Areas([], none, [], none), 1, 4527, "update", None,
                           lambda *a: {}, lambda *a: None)


def _plain_prefixes(district, class_code):
    names = [f"{d}81{c}" for d, c in zip(district, class_code)]
    uniq = sorted(set(names))
    return [uniq.index(p) for p in names], uniq


@pytest.mark.parametrize("district,class_code", [
    # two (district, class) pairs spelling one prefix: 3708|81|8111 and 370881|81|11
    (["3708", "370881", "370811", "3708", "370811"], ["8111", "11", "01", "8111", "99"]),
    # values other than str: formatted row by row (1 and 1.0 are one value but two prefixes)
    (["370811"] * 4, [1, 1.0, None, "1"]),
    (["370811", "370812", "370811"], ["01", "01", "01"]),
])
def test_prefixes_are_the_row_by_row_format_factorized_in_sorted_order(district, class_code):
    ids, uniq = _converter()._prefixes(_obj(district), _obj(class_code))
    want_ids, want_uniq = _plain_prefixes(district, class_code)
    assert uniq == want_uniq and ids.tolist() == want_ids
    assert _converter()._prefixes(_obj([]), _obj([]))[1] == []


def test_ranks_and_registry_order_are_row_order_within_each_prefix():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 7, 2000)
    order = _stable_order(codes, 7)
    # plain: rows sorted by prefix, row order within one; rank counts a prefix's rows so far
    assert order.tolist() == sorted(range(len(codes)), key=lambda i: (codes[i], i))
    seen: dict[int, int] = {}
    want = []
    for c in codes.tolist():
        seen[c] = seen.get(c, 0) + 1
        want.append(seen[c])
    assert _ranks(codes, order).tolist() == want
    big = rng.integers(0, 40_000, 3000)  # more prefixes than 16 bits hold: a plain sort
    assert _stable_order(big, 40_000).tolist() == sorted(range(3000), key=lambda i: (big[i], i))


def test_digits_are_the_zero_padded_decimals():
    values = [0, 7, 42, 999_999, 123_456, 2**32 - 1, 2**32, 10**11 - 1]
    for width in (6, 8, 11):
        got = copybuf.digits(np.array(values), width)
        assert [bytes(r).decode() for r in got] == [str(v).zfill(width)[-width:] for v in values]
    assert copybuf.digits(np.array([], dtype=np.int64), 6).shape == (0, 6)
