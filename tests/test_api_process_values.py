"""A process input whose value the database refuses is the client's (400 naming it), not an
internal error: a bbox given lat/lon (latitude 116°, which PROJ cannot project into the
storage CRS) was a 500 ``InternalError_``."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize("pid,inputs", [
    ("aoi", {"bbox": [35.2, 116.5, 35.5, 116.8], "layers": ["buildings"]}),
    ("aoi", {"polygon": "POLYGON((35.2 116.5, 35.5 116.5, 35.5 116.8, 35.2 116.5))",
             "layers": ["buildings"]}),
    ("aoi", {"point": [35.3, 116.6], "radius": 50, "layers": ["buildings"]}),
])
def test_lat_lon_swapped_is_400(api, pid, inputs):
    r = requests.post(f"{api}/processes/{pid}/execution", json={"inputs": inputs}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    msg = r.json()["description"]
    assert msg.startswith(pid + ":") and "longitude first" in msg, msg
    assert "\n" not in msg and "Traceback" not in r.text


def test_lon_lat_still_answers(api):
    r = requests.post(f"{api}/processes/aoi/execution", json={"inputs": {
        "bbox": [116.5, 35.2, 116.8, 35.5], "layers": ["buildings"]}}, timeout=60)
    assert r.status_code == 200, r.text[:300]
