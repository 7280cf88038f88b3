"""risk_matrix.yaml states ``manual_likelihood`` (the likelihood of a point added by hand
without one) rather than leaving it to the code's fall-back: a city reading its copy of the
file saw no such setting, and could not tell what a defaulted point was graded by."""

from __future__ import annotations

import yaml

from cim.profile import DICTIONARY_DIR
from layers.risk.config import load_matrix


def test_the_matrix_file_states_the_manual_likelihood():
    p = DICTIONARY_DIR / "risk_matrix.yaml"
    raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    assert raw.get("manual_likelihood") == 3
    assert load_matrix(p).manual_likelihood == 3
    text = p.read_text(encoding="utf-8")
    at = text.index("manual_likelihood:")
    assert "--likelihood" in text[max(0, at - 300):at]  # its comment says what it is


def test_a_city_s_value_is_taken(tmp_path):
    src = (DICTIONARY_DIR / "risk_matrix.yaml").read_text(encoding="utf-8")
    p = tmp_path / "risk_matrix.yaml"
    p.write_text(src.replace("manual_likelihood: 3", "manual_likelihood: 2"), encoding="utf-8")
    assert load_matrix(p).manual_likelihood == 2
