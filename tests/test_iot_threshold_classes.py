"""sensor_thresholds.csv's asset_class is a class code of the watched asset's layer (pipe class
03 燃气 …). A city's copy saved by a spreadsheet writes 03 as 3: no sensor's class is 3, so the
row set matched none and the gas-pipe pressure sensors silently took the generic levels (四级
at 0.22 MPa instead of the gas rows' 0.15: alarms on a gas main at its normal pressure). Such
a class is refused naming the file's row and field; a class of the city's own class dictionary
is accepted.
"""

from __future__ import annotations

import dataclasses

import pytest

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR
from layers.iot.thresholds import load_config


def _copy(tmp_path, edit):
    src = (DICTIONARY_DIR / "sensor_thresholds.csv").read_text(encoding="utf-8").splitlines()
    th = tmp_path / "sensor_thresholds.csv"
    th.write_text("\n".join(edit(r) for r in src) + "\n", encoding="utf-8")
    return th, src


def test_an_asset_class_without_its_leading_zero_is_refused(tmp_path):
    th, src = _copy(tmp_path, lambda r: r.replace("02,03,below", "02,3,below"))
    row = next(i for i, r in enumerate(src, start=1) if r.startswith("02,03,below"))
    with pytest.raises(ConfigError) as exc:
        load_config(thresholds=th)
    assert (exc.value.row, exc.value.field) == (row, "asset_class")
    assert "'03' is one" in str(exc.value) and str(th) in str(exc.value)
    # the file as shipped: the gas rows apply to the gas pipes' class
    assert load_config().rowset("02", "03").least.on == 0.15


def test_a_class_of_the_citys_own_dictionary_is_accepted(tmp_path, jining_profile):
    th, _ = _copy(tmp_path, lambda r: r.replace("02,03,below", "02,77,below"))
    with pytest.raises(ConfigError):
        load_config(thresholds=th)
    classes = tmp_path / "pipe_classes.csv"
    text = (DICTIONARY_DIR / "pipe_classes.csv").read_text(encoding="utf-8").rstrip("\n")
    classes.write_text(text + "\n77,中水,Reclaimed water,ZS,9,\"0,128,0\",0,再生水,to\n",
                       encoding="utf-8")
    city = dataclasses.replace(jining_profile, dictionaries={
        **jining_profile.dictionaries, "pipe_classes": classes})
    assert load_config(city, thresholds=th).rowset("02", "77").least.on == 0.15
