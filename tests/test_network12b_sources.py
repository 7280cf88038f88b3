"""Source codes typed by staff with a Chinese keyboard: the full-width comma （，）, the
enumeration comma （、）, the full-width semicolon （；） and the ideographic space (U+3000)
between codes were kept inside one "code", which then named no source."""

from __future__ import annotations

import pytest

from cim.errors import InputError
from layers.query.isolation import read_sources

CODES = ["370811820100000001", "370811820100000002", "370811830100000003"]


@pytest.mark.parametrize("sep", ["，", "、", "；", "\u3000", "， ", " 、"])
def test_chinese_separators_split_the_codes(sep):
    assert read_sources(sep.join(CODES)) == CODES


def test_a_file_of_codes_with_chinese_separators(tmp_path):
    p = tmp_path / "sources.txt"
    p.write_text(f"{CODES[0]}，{CODES[1]}  # 水厂\n{CODES[2]}、\n", encoding="utf-8")
    assert read_sources(str(p)) == CODES


def test_only_separators_is_still_no_code():
    with pytest.raises(InputError, match="names no code"):
        read_sources("，、\u3000")
