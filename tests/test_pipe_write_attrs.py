"""The pipe writer's attrs column (loaders.pipes.attrs_json.attrs_texts) is built column by column;
each row's text must be what json.dumps(attrs, ensure_ascii=False, default=str) writes for it,
whatever the values: numbers that compare equal but print differently, non-finite floats,
texts that need escapes, nested values, numpy and date values, rows of other keys."""

from __future__ import annotations

import datetime as dt
import json
import random

import numpy as np
import pytest

from loaders.pipes.attrs_json import attrs_texts as _attrs_texts
from loaders.pipes.records import RowAttrs

TRICKY = [None, -0.0, 0.0, float("nan"), float("inf"), -float("inf"), 1, 1.0, True, False, 0,
          10 ** 20, 1e20, "a", "", " ", 'q"\\', "中文\x00\n\t", "True", "None", "null", [1, "x"],
          {"k": 1.5}, np.float64(1.5), np.int64(3), dt.date(2020, 1, 2), 0.1 + 0.2]


def _dumps(a: dict) -> str:
    """json.dumps of the row, its keys in jsonb's order (shorter first, then by their UTF-8
    bytes: PostgreSQL's), sorted here independently of loaders.jsonb."""
    keys = sorted(a, key=lambda k: (len(k.encode()), k.encode()))
    return json.dumps({k: a[k] for k in keys}, ensure_ascii=False, default=str)


def test_attrs_texts_are_json_dumps_of_each_row():
    rng = random.Random(7)
    kinds = [list(range(len(TRICKY))), [13, 17, 18, 0], [1, 2, 6, 7, 0], [6, 8, 10, 11],
             [3, 4, 5, 1, 2]]
    for _ in range(100):
        keys = rng.sample(["x", "管线类别", 'k"', "_row", "_table", "z"], rng.randint(0, 5))
        pick = {k: rng.choice(kinds) for k in keys}
        rows = [{k: TRICKY[rng.choice(pick[k])] for k in keys} for _ in range(rng.randint(0, 80))]
        rows += [{"other": TRICKY[rng.randrange(len(TRICKY))]} for _ in range(rng.randint(0, 30))]
        rng.shuffle(rows)
        assert _attrs_texts(rows) == [_dumps(r) for r in rows]
        # as the survey reader gives them: most rows as names and values
        mixed = [RowAttrs(tuple(r), tuple(r.values())) if rng.random() < 0.7 else r
                 for r in rows]
        assert _attrs_texts(mixed) == [_dumps(r) for r in rows]


def test_row_attrs_read_as_the_dict_of_their_names_and_values():
    a = RowAttrs(("物探点号", "X", "_row"), ("JS1", 1.5, 2))
    assert a == {"物探点号": "JS1", "X": 1.5, "_row": 2} and dict(a) == a
    assert list(a) == ["物探点号", "X", "_row"] and len(a) == 3 and a["X"] == 1.5
    assert a.get("Y") is None and "Y" not in a and "X" in a
    with pytest.raises(KeyError):
        a["Y"]


def test_a_survey_table_of_plain_columns():
    rows = [{"物探点号": f"JS{i:04d}", "X": 3915200.0 + i / 8, "Y": 39464200.5, "埋深": None,
             "_table": "点.csv", "_row": i + 2} for i in range(50)]
    rows[7]["X"] = -0.0
    texts = _attrs_texts(rows)
    # keys in jsonb's order: by UTF-8 length ("埋深" and "_table" six bytes, "物探点号"
    # twelve), then bytes
    assert texts[0] == ('{"X": 3915200.0, "Y": 39464200.5, "_row": 2, "_table": "点.csv", '
                        '"埋深": null, "物探点号": "JS0000"}')
    assert '"X": -0.0' in texts[7]
    assert texts == [_dumps(r) for r in rows]
