"""Which survey rows are no record (loaders.pipes.norecord) and which cells say more than
the number their column stores (loaders.pipes.survey._typed_numbers): rows built here, no
database."""
from __future__ import annotations

import numpy as np
import pytest

from loaders.column_values import distinct
from loaders.pipes.norecord import no_record_rows
from loaders.pipes.survey import _typed_numbers

H = ["物探点号", "X", "Y", "特征", "附属物", "地面高程", "道路名称", "备注"]
KEYS = [0, 1, 2]


def skipped(rows):
    grid = np.empty((len(rows), len(H)), dtype=object)
    grid[:] = rows
    cols = [distinct(grid[:, j]) for j in range(len(H))]
    blank = np.array([[c is None or (isinstance(c, str) and not c.strip()) for c in r]
                      for r in rows])
    return no_record_rows(H, cols, blank, KEYS).tolist()


REC = ["JS1", 500000.1, 3000000.2, "直线点", "检查井", 36.3, "中山路", None]


@pytest.mark.parametrize("cell,col", [
    ("测量路 1号", 6), ("单位1", 0), ("检查井", 4), ("注 浆管", 3), ("说明 见图", 7),
    ("测量路", 6), ("单位院 东门", 6), ("作业区 3号路", 6), ("技术 路", 6),
])
def test_a_survey_record_is_kept(cell, col):
    r = list(REC)
    r[col] = cell
    assert skipped([r]) == [False]


def test_a_keyless_record_with_a_note_is_a_record_not_skipped():
    # a point delivered without its 物探点号, its 备注 reads 注：待补测: a reject, not skipped
    r = [None, None, None, "阀门", None, None, None, "注：待补测"]
    assert skipped([r]) == [False]


def test_a_keyless_record_on_a_road_named_with_a_label_is_a_record():
    # 道路名称 "测量 东路"? keyless with a feature: only one label among three cells
    r = [None, None, None, "阀门", None, 36.3, "单位 东侧", None]
    assert skipped([r]) == [False]


def test_point_number_with_space_after_a_label_word():
    r = list(REC)
    r[0] = "检查 1"
    assert skipped([r]) == [False]


@pytest.mark.parametrize("values,plain", [
    ([36.3, "-3.20"], True), (["36."], True), ([".5"], True), (["1e3"], False),
    (["３６"], False),  # full-width digits typed: the docstring's "３６．３" kept as typed
    (["٣٦"], False),   # Arabic-Indic digits
])
def test_plain_numbers(values, plain):
    assert (not _typed_numbers(values).any()) is plain


@pytest.mark.parametrize("row,skip", [
    # 合计 under 道路名称, its count under 物探点号 (probe of session 19: three rejects)
    (["9个点", None, None, None, None, None, "合计", None], True),
    (["共12个", None, None, None, None, None, "合 计", None], True),
    # a point numbered 9 beside a 合计 note is a record; so is one with its X/Y
    (["9", None, None, None, None, None, "合计", None], False),
    (["9个点", 500000.1, 3000000.2, None, None, None, "合计", None], False),
    # keyless records whose 备注 speaks of pages or sums: records (rejects naming the key)
    ([None, None, None, "三通", "阀门井", 36.5, "中山路", "见第2页草图"], False),
    ([None, None, None, "三通", "阀门井", 36.5, "中山路", "共计2处渗漏"], False),
])
def test_a_total_with_its_count_under_the_key_is_no_record(row, skip):
    assert skipped([row]) == [skip]
