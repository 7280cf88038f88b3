"""The report's maps colour as the web map does (styles.yaml health_indicators classes): an
indicator by its score, the index by its value. They coloured each indicator by value relative
to the other districts, so the one district with pipes, 42.86 % aged against a target of at
most 10 %, was drawn deep green (the best end of the scale: a lone value is its own minimum),
where the web map draws it red (a helper's probe). Expected colours: the styles file's classes
for the score the fixture gives by construction."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import yaml
from PIL import Image

from cim.profile import DICTIONARY_DIR
from layers.health.catalog import load_catalog
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`


def _class_colour(score_100: float) -> tuple[int, int, int]:
    spec = yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))
    spec = spec["layers"]["health_indicators"]
    uppers = spec["breaks"][1:]
    i = next(k for k, u in enumerate(uppers) if score_100 <= u)
    return tuple(int(x) for x in spec["colors"][i].split(","))


def _has_colour(png: bytes, rgb: tuple[int, int, int]) -> int:
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(a - np.array(rgb)).sum(axis=2) <= 6).sum())


def test_an_indicator_far_from_its_target_is_red_on_the_report_map(city, tmp_path):
    out = tmp_path / "health.html"
    run_cli(["health", "compute", "--year", "2026", "--report", str(out)], city.env(),
            check=True)
    html = out.read_text(encoding="utf-8")
    # the pipe ageing section's map: D1 142.86 m aged of 350 m with a known year (as drawn in
    # tests/health_fixture.py), target ≤ 10 %: score 10 / 42.86
    target = next(i for i in load_catalog().indicators if i.id == "pipe_aging_rate").target
    score = target / (100 * 150 / 350)
    assert score == pytest.approx(0.2333, abs=1e-4)
    red, green = _class_colour(100 * score), _class_colour(100)
    assert red != green
    section = html[html.index("<h2>安全韧性"):]
    section = section[:section.index("</div>")]
    names = re.findall(r"<h3>([^<(]+)", section)
    pngs = [base64.b64decode(m) for m in re.findall(r'data:image/png;base64,([^"]+)', section)]
    assert len(pngs) == len(names)
    png = pngs[next(k for k, n in enumerate(names) if n.startswith("地下管网老化率"))]
    assert _has_colour(png, red) > 500  # D1's polygon
    assert _has_colour(png, green) < 50  # the legend's swatch at most
