"""One rule names a delivery's dataset, for one file or a pipe survey's several tables
(``loaders.field_names.delivery_dataset``; the pipe loader had its own copy of it). Expected
values are the file names as written here."""

from __future__ import annotations

import pytest

from cim.errors import InputError
from loaders.field_names import delivery_dataset

EXPORT = "cim_row,cim_reason,cim_field,cim_message,cim_dataset,物探点号,X,Y\n"


def test_several_tables_take_their_names_common_part(tmp_path):
    a, b = tmp_path / "热力_管线点成果表.csv", tmp_path / "热力_管线段成果表.csv"
    for p in (a, b):
        p.write_text("物探点号,X,Y\n", encoding="utf-8")
    assert delivery_dataset([a, b], None) == "热力"
    assert delivery_dataset([a], None) == "热力_管线点成果表"
    assert delivery_dataset(a, None) == "热力_管线点成果表"
    assert delivery_dataset([a, b], "甲") == "甲"
    # no common part: the first name
    c = tmp_path / "points.csv"
    c.write_text("物探点号,X,Y\n", encoding="utf-8")
    assert delivery_dataset([c, b], None) == "points"


def test_a_folder_is_named_whole(tmp_path):
    d = tmp_path / "2026.06管线"
    d.mkdir()
    assert delivery_dataset([d], None) == "2026.06管线"


def test_exports_of_two_datasets_among_the_tables_are_refused(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(EXPORT + "2,bad_value,X,m,甲,P1,1,2\n", encoding="utf-8")
    b.write_text(EXPORT + "2,bad_value,X,m,乙,P2,1,2\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        delivery_dataset([a, b], None)
    assert "甲 in a.csv" in str(e.value) and "乙 in b.csv" in str(e.value)
    b.write_text(EXPORT + "2,bad_value,X,m,甲,P2,1,2\n", encoding="utf-8")
    assert delivery_dataset([a, b], None) == "甲"
    with pytest.raises(InputError, match="--mode replace"):
        delivery_dataset([a, b], None, mode="replace")
