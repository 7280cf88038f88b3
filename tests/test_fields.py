"""Column parsers give exactly what the scalar parsers give, value by value."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from cim.numbers import ValueProblem
from loaders.dates import as_date, as_year, years
from loaders.excel_notation import as_id
from loaders.fields import as_float, as_int, as_text, numbers, texts

TRICKY = np.array([None, "", "  ", " 12 ", "12米", "十二层", 7, 7.0, 7.5, float("nan"),
                   float("inf"), -3, "1,200", "2001-05", b"x", "x" * 300, 12.000000001, "1e3", "1995",
                   1995, "1995年", "1,5", "12mm", "1,200.5", "2.5 m", "0,500",
                   "1_5", "+1e 3", "+43e\t1", "+5e48", "+1,200"],
                  dtype=object)


def _scalar(parse, v):
    try:
        return parse(v), None
    except ValueProblem as exc:
        return None, str(exc)


@pytest.mark.parametrize("column, scalar", [
    (lambda c: texts(c, 200), lambda v: as_text(v, 200)),
    (lambda c: numbers(c, 0, 300, integer=True), lambda v: as_int(v, 0, 300)),
    (lambda c: numbers(c, 0, 1000), lambda v: as_float(v, 0, 1000)),
    (years, as_year),
])
@pytest.mark.parametrize("data", [
    TRICKY,
    np.array([1995, 2001, 12, None], dtype=object),  # a numeric column (GPKG integer)
    np.array([3.0, 4.5, float("nan"), 1e9], dtype=object),  # a real column
    np.array(["甲", None, "乙"], dtype=object),  # text only
])
def test_column_parsers_agree_with_scalar_parsers(column, scalar, data):
    values, problems = column(data)
    for i, v in enumerate(data):
        want, why = _scalar(scalar, v)
        got = values[i]
        assert (got, problems.get(i)) == (want, why), (i, v)
        assert type(got) is type(want), (i, v)


@pytest.mark.parametrize("text, value", [
    ("1,200", 1200.0), ("-12,345,678.25", -12345678.25), ("1,200.", 1200.0),
    ("12米", 12.0), ("12.5 m", 12.5), ("3M", 3.0), (" 7 ", 7.0), ("+1,200", 1200.0),
    ("+5e48", 5e48), ("1e3", 1000.0),
    # typed in an IME's full-width mode
    ("１２．５", 12.5), ("－3.2", -3.2), ("12ｍ", 12.0), ("１２ Ｍ", 12.0), ("1，200.5", 1200.5),
    ("\u3000７\u3000", 7.0), ("１２米", 12.0),
])
def test_numbers_group_thousands_and_carry_a_metre_sign(text, value):
    assert as_float(text) == value
    values, problems = numbers(np.array([text], dtype=object))
    assert (values.tolist(), problems) == ([value], {})


@pytest.mark.parametrize("text", ["1,5", "12,34", "1,2345", ",5", "1,,200", "12mm", "5 cm",
                                  "米", "3mM", "0,500", "-0,500", "00,123", "1_5", "12_5m",
                                  "+1e 3", "1,200,", "０，５", "１２ｍｍ", "10⁵", "½",
                                  "１＿５"])
def test_numbers_refuse_a_comma_or_unit_they_cannot_read(text):
    """A decimal comma or a unit other than metres is a problem, not a number ten or a
    thousand times off (``1,5`` was 15, ``12mm`` 12)."""
    with pytest.raises(ValueProblem):
        as_float(text)
    values, problems = numbers(np.array([text, "2"], dtype=object))
    assert values.tolist() == [None, 2.0]
    assert list(problems) == [0]


def test_column_parsers_agree_with_the_scalar_ones_on_what_bulk_parsing_misses():
    """Column versions must give the scalar parser's value or problem for every value."""
    from loaders.column_values import distinct, mapped

    values = np.array(["a\x00b", " x ", "", None, "y" * 11], dtype=object)
    out, problems = texts(values, 10)
    assert out.tolist() == [None, "x", None, None, None]
    assert problems == {0: "text contains a NUL character",
                        4: "text of 11 characters is longer than 10"}
    for i, v in enumerate(values):  # the scalar parser says the same
        if i in problems:
            with pytest.raises(ValueProblem, match=problems[i][:10]):
                as_text(v, 10)
        else:
            assert as_text(v, 10) == out[i]
    # equal in Python, not the same value: each parsed as itself
    mixed = np.array([1, 1.0, True, "1", None, float("nan"), 1], dtype=object)
    codes, uniques = distinct(mixed)
    assert [type(u) for u in uniques] == [int, float, bool, str]
    assert codes.tolist() == [0, 1, 2, 3, -1, -1, 0]
    kinds, bad = mapped(mixed, lambda v: type(v).__name__)
    assert kinds.tolist() == ["int", "float", "bool", "str", "NoneType", "NoneType", "int"]
    assert bad == {}


def test_attrs_json_is_the_json_of_row_attrs():
    import json

    from loaders.common import attrs_json

    cols = {"h": np.array([1e-11, 0.1 + 0.2, 123456789012345678.0, float("nan"),
                           float("inf")], dtype=object),
            "t": np.array(["x", " ", 'é"\\', None, "a\x00b"], dtype=object),
            "n": np.array([1, True, 2, None, 3], dtype=object)}
    got = [json.loads(a) for a in attrs_json(cols, 5)]
    assert got == [{"h": 1e-11, "t": "x", "n": 1},
                   {"h": 0.30000000000000004, "t": None, "n": True},
                   {"h": 123456789012345678.0, "t": 'é"\\', "n": 2},
                   {"h": None, "t": None, "n": None},
                   {"h": "inf", "t": "ab", "n": 3}]


def test_attrs_json_texts_quoted_in_arrow_are_what_json_writes():
    """A column of distinct texts (ids) is quoted in Arrow when it is plain: blank texts
    (Unicode spaces, control characters counted as spaces by str.strip), quotes, backslashes,
    control characters and NULs still come out as json.dumps writes them."""
    import json

    from loaders.common import attrs_json

    texts = ["JZ001", "  ", "", 'a"b', "x\\y", "制图", " 中 ", "\t", "\x1c", "\xa0", "\u3000",
             "\u3000a", "a\x00b", "é", "ab\ncd", "A\u2028B", "\x7f1", "ok ok", "𠀀1"]
    col = np.array(texts + [None, float("nan")], dtype=object)
    expected = []
    for v in col:  # json.dumps of the value as row_attrs keeps it, written independently
        blank = v is None or (isinstance(v, float)) or v.strip() == ""
        expected.append("{" + json.dumps("编号", ensure_ascii=False) + ": " + (
            "null" if blank else json.dumps(v.replace("\x00", ""), ensure_ascii=False)) + "}")
    assert attrs_json({"编号": col}, len(col)) == expected


def test_texts_of_an_arrow_column_as_read_are_those_of_its_python_values():
    """A text column parsed in Arrow (no Python string a row) gives each row the value and
    the problem the object column gives: stripped, blank as None, too long and NUL refused."""
    import pyarrow as pa

    raw = ["办公", " 办公 ", None, "", "x" * 60, "a\x00b", "住宅", "办公", "\u3000"]
    want = (["办公", "办公", None, None, None, None, "住宅", "办公", None], {4, 5})
    from loaders.fields import arrow_texts

    for column in (pa.array(raw, pa.string()), np.array(raw, dtype=object)):
        values, problems = texts(column, 50)
        assert (values.tolist(), set(problems)) == want, type(column)
        assert "60" in problems[4] and "NUL" in problems[5]
        # the same as an Arrow array for the COPY buffer
        values, again = arrow_texts(column, 50)
        assert isinstance(values, pa.Array) and values.type == pa.string()
        assert (values.to_pylist(), again) == (want[0], problems)
    values, problems = arrow_texts(np.array([12, None, 3.5], dtype=object), 50)  # not texts
    assert (values.to_pylist(), problems) == (["12", None, "3.5"], {})
    from loaders.column_values import distinct

    codes, uniques = distinct(pa.array(raw, pa.string()))  # a use or class column as read
    assert [uniques[c] if c >= 0 else None for c in codes] == raw
    assert len(uniques) == len({v for v in raw if v is not None})


@pytest.mark.parametrize("column, scalar", [
    (lambda c: texts(c, 200), lambda v: as_text(v, 200)),
    (lambda c: numbers(c, 0, 300, integer=True), lambda v: as_int(v, 0, 300)),
    (lambda c: numbers(c, 0, 1000), lambda v: as_float(v, 0, 1000)),
    (years, as_year),
])
@pytest.mark.parametrize("arrow", [
    ("int32", [1995, None, 12, 301, 2200, 12345, 0]),
    ("int64", [1995, 2001, -3, 300, 9_999_999_999_999_999, -2**63]),  # sentinels: problems
    ("float64", [3.0, 4.5, float("nan"), None, 1e9, float("inf"), 1995.0, 300.5]),
    ("string", ["1995", " 12 ", None, "1,200", "１８．５ｍ", "12345", "1995年", "x"]),
])
def test_column_parsers_of_an_arrow_column_agree_with_scalar_parsers(column, scalar, arrow):
    """A column as read (Batch.for_parser: Arrow, no Python object a row) gives each row
    what the scalar parser gives its value as read."""
    import pyarrow as pa

    kind, raw = arrow
    values, problems = column(pa.array(raw, getattr(pa, kind)()))
    for i, v in enumerate(raw):
        want, why = _scalar(scalar, v)
        assert (values[i], problems.get(i)) == (want, why), (i, v)
        assert type(values[i]) is type(want), (i, v)


@pytest.mark.parametrize("text, year", [("1995", 1995), ("1995年", 1995), ("19950601", 1995),
                                        ("199506", 1995), (199506, 1995),
                                        ("1995-06-01", 1995), (1995.0, 1995)])
def test_years_as_surveyors_write_them(text, year):
    assert as_year(text) == year


@pytest.mark.parametrize("text", ["12345", 12345, "1234567", "123456789", "95"])
def test_a_number_of_other_than_four_or_eight_digits_is_no_year(text):
    """12345 was read as the year 1234, silently."""
    with pytest.raises(ValueProblem):
        as_year(text)


@pytest.mark.parametrize("typed, day", [
    ("2021-05-12", (2021, 5, 12)), ("2021/5/1", (2021, 5, 1)), ("2021.05.12", (2021, 5, 12)),
    ("2021年5月12日", (2021, 5, 12)), ("20210512", (2021, 5, 12)), (20210512, (2021, 5, 12)),
    ("２０２１－０５－１２", (2021, 5, 12)), ("2021-05-12 08:30:00", (2021, 5, 12)),
    ("2021-05-12T08:30", (2021, 5, 12)), (" 2021-05-12 ", (2021, 5, 12))])
def test_dates_as_typed(typed, day):
    assert as_date(typed) == dt.date(*day)


@pytest.mark.parametrize("typed", [
    "2021-05-123", "2021/5/1 2", "2021-05-12至2022-01-01", "2021年5月12日前后", "2021-05-12x",
    "2021-13-01", "2021年5月", "12/05/2021", True])
def test_dates_with_more_after_the_day_are_refused(typed):
    with pytest.raises(ValueProblem):
        as_date(typed)


@pytest.mark.parametrize("typed", ["5m", "300m", "4 米", "12M"])
def test_a_count_has_no_metre_sign(typed):
    with pytest.raises(ValueProblem, match="length"):
        as_int(typed)
    assert as_float(typed) == float(typed.rstrip("mM米 "))  # a length may have one
    _, bad = numbers(np.array([typed, "3"], dtype=object), integer=True)
    assert list(bad) == [0]


def test_ids_stored_as_numbers():
    assert as_id(987) == "987" and as_id(987.0) == "987" and as_id(np.float64(12.0)) == "12"
    assert as_id(" A-01 ") == "A-01" and as_id(None) is None and as_id("") is None
    assert as_id(2.0 ** 53 - 1) == str(2 ** 53 - 1)
    for lost in (1.234567890123457e+17, 2.0 ** 53, 12.5):
        with pytest.raises(ValueProblem, match="lost digits"):
            as_id(lost)
    with pytest.raises(ValueProblem):
        as_id(True)


def test_a_whole_float_is_its_integers_text():
    assert as_text(370811.0) == "370811" and as_text(np.float64(12.0)) == "12"
    assert as_text(12.5) == "12.5" and as_text(" 0101 ") == "0101" and as_text(7) == "7"
    with pytest.raises(ValueProblem, match="lost digits"):
        as_text(1.234567890123457e+17)
    out, bad = texts(np.array([370811.0, 12.5, None, "A"], dtype=object))
    assert list(out) == ["370811", "12.5", None, "A"] and not bad


@pytest.mark.parametrize("value, year", [
    ("2023.5", 2023), (2023.5, 2023), ("2023年5月", 2023), ("2021-05-12", 2021),
    ("2021/5/3", 2021), ("199506", 1995), (2023.0, 2023),
])
def test_a_year_with_its_month_or_day_is_that_year(value, year):
    # 2023.5 is how a Chinese table writes May 2023
    assert as_year(value) == year
    assert years(np.array([value], dtype=object))[0].tolist() == [year]


@pytest.mark.parametrize("value", ["2023-2024", "1990～1995", "2019至2020", "2023 - 2024",
                                   "2018/2019"])
def test_a_range_of_years_is_no_year(value):
    # it was read as its first year (a population of 2023-2024 stored as 2023's)
    with pytest.raises(ValueProblem, match="range of years"):
        as_year(value)
    out, problems = years(np.array([value, "2020"], dtype=object))
    assert out.tolist() == [None, 2020] and "range of years" in problems[0]
