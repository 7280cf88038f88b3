"""区域开发强度: the catalog's construction_prefixes are leading parts of land_use.csv codes of
any length. Only two-digit prefixes were compared (``left(code, 2)``): a city naming the class
0701 (城镇住宅用地) or 1208 counted none of its parcels (a helper's probe).

By construction in D1 (2,000,000 m²): parcel A 0701 box(0,0,100,100) = 10,000 m²; parcel B
0702 box(200,0,300,50) = 5,000 m²; parcel C 1208 box(400,0,420,100) = 2,000 m²; parcel D 0901
box(600,0,700,100) = 10,000 m²."""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import box

from layers.health.parts import Context
from layers.health.templates import TEMPLATES
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`

PARCELS = {"A": ("0701", box(0, 0, 100, 100)), "B": ("0702", box(200, 0, 300, 50)),
           "C": ("1208", box(400, 0, 420, 100)), "D": ("0901", box(600, 0, 700, 100))}


@pytest.mark.parametrize(("prefixes", "parcels"), [
    (["0701", "1208"], "AC"), (["07"], "AB"), (["07", "09"], "ABD"), (["0702", "12"], "BC")])
def test_prefixes_of_any_length(city, prefixes, parcels):
    with psycopg.connect(city.conninfo) as conn:
        for code, (lu, g) in PARCELS.items():
            conn.execute("INSERT INTO planning_parcels (code, parcel_code, land_use_code, geom)"
                         " VALUES (%s, %s, %s, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, code, lu, hf._wkb(g)))
        ctx = Context(conn, 2026, city.profile, {}, [hf.D1, hf.D2])
        got = TEMPLATES["development_intensity"](ctx, {"construction_prefixes": prefixes})
    want = sum(PARCELS[c][1].area for c in parcels)
    assert got[hf.D1].num == pytest.approx(want)
    assert got[hf.D1].den == pytest.approx(hf.DISTRICTS[hf.D1].area)
    # no parcel lies in D2: the plan was delivered for D1 only, no value (not 0 %, met)
    assert got[hf.D2].num is None and got[hf.D2].flags == {"no_planning_parcels"}
