"""An index's 详情 on the web map: its keys are the dimensions' names of the health catalog
(health_indicators.yaml) and the platform's words for the other keys (value_labels.yaml) —
they showed as ``dimensions：（healthy：0.338930725 …）`` and ``gap_m：0``."""

from __future__ import annotations

import yaml

from cim.profile import DICTIONARY_DIR
from layers.styles.info_formats import info_formats


def test_the_index_detail_keys_read_in_chinese(jining_profile):
    detail = info_formats(jining_profile)["values"]["health_indicators"]["detail"]
    catalog = yaml.safe_load((DICTIONARY_DIR / "health_indicators.yaml").read_text("utf-8"))
    for dim in catalog["dimensions"]:
        assert detail[dim["id"]] == dim["name_zh"]
    assert detail["dimensions"] == "各维度得分" and detail["gap_m"].endswith("(m)")
