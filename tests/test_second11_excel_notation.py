"""One pattern of Excel's E notation (loaders.excel_notation.E_NOTATION) and one scanner of a
column's ids written so (loaders.excel_notation.excel_rounded_ids, in Arrow): the survey
tables' point numbers and pipe ids had their own regex and a Python loop a row, the
components theirs in Arrow."""
import numpy as np
import pytest

from cim.numbers import ValueProblem
from loaders import excel_notation
from loaders.excel_notation import as_coordinate, as_id, excel_rounded_ids
from loaders.pipes import fields as pipe_fields

# (text, an id Excel rounded?, a coordinate that lost digits?) — by Excel's forms: it writes
# the plus; 3.91378E+06 keeps 5 of the 6 digits before the point, 3.9137811E+06 all of them
CASES = [("1.23457E+17", True, True), ("3.91378E+06", True, True),
         (" 3.9137811E+06 ", True, False), ("3.91378E06", False, True),
         ("2E10", False, True), ("JS0001", False, False), ("1.5", False, False)]


def test_ids_and_coordinates_read_one_pattern():
    for text, rounded_id, lost in CASES:
        assert excel_notation.is_excel_rounded_id(text) is rounded_id, text
        if lost:
            with pytest.raises(ValueProblem, match="as Excel shows it"):
                as_coordinate(text)
        if rounded_id:
            with pytest.raises(ValueProblem, match="as Excel shows it"):
                as_id(text)
    assert not hasattr(excel_notation, "EXCEL_ROUNDED") and not hasattr(excel_notation,
                                                                   "_E_NOTATION")


def test_the_pipe_id_column_is_scanned_by_the_arrow_scanner(monkeypatch):
    col = np.array(["JS0001", "1.23457E+17", None, "2E10", " 3.70811E+17 "], dtype=object)
    seen = []

    def spy(values):
        seen.append(len(values))
        return excel_rounded_ids(values)

    monkeypatch.setattr(pipe_fields, "excel_rounded_ids", spy)
    out, problems = pipe_fields._id_texts(col)
    assert seen == [5]
    assert sorted(problems) == [1, 4]
    assert out.tolist() == ["JS0001", None, None, "2E10", None]
    # the message the row's own parser gives (id_text), the same
    with pytest.raises(ValueProblem) as exc:
        pipe_fields.id_text("1.23457E+17")
    assert problems[1] == str(exc.value)
