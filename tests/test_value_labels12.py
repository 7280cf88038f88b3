"""The web map's value labels are city-editable like its styles: a city's copy of
value_labels.yaml named in its profile (``dictionaries: {value_labels: …}``) is the one read;
without one, the platform's. Expected labels are written here, not read from the code."""

from __future__ import annotations

from dataclasses import replace

import yaml

from cim.profile import DICTIONARY_DIR
from layers.styles.info_formats import info_formats


def test_a_citys_copy_of_the_value_labels_is_read(jining_profile, tmp_path):
    platform = yaml.safe_load((DICTIONARY_DIR / "value_labels.yaml").read_text(encoding="utf-8"))
    assert info_formats(jining_profile)["values"]["alarms"]["status"]["active"] == \
        platform["values"]["alarms"]["status"]["active"]
    own = dict(platform)
    own["values"] = {**platform["values"],
                     "alarms": {**platform["values"]["alarms"],
                                "status": {**platform["values"]["alarms"]["status"],
                                           "active": "报警中"}}}
    path = tmp_path / "value_labels.yaml"
    path.write_text(yaml.safe_dump(own, allow_unicode=True), encoding="utf-8")
    city = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                 "value_labels": path})
    assert info_formats(city)["values"]["alarms"]["status"]["active"] == "报警中"
