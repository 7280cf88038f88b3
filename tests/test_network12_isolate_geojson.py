"""`cim query isolate --sources … --geojson`: the map file holds what the text and the JSON
name beside the valves to close — the valves that need not close and the pipes dry whatever
bursts. They were left out of it: the text said "dry already: 11 segments" and the file drawn
on the map had none of them.

On the hand-drawn network of tests/test_net_isolation11.py (answers by construction there):
a11 bursts, S1 and S2 feed — V5 need not close (DE beyond it is fed by nothing else), and the
pipes no given source reaches are the zone Z1–Z2 behind the closed VC (a14, a15), the island
(i1) and the main, branch, ends and GIS pipes fed by sources not given (m0 m1 b1 e1 e2 h1 h2
h3): 11 segments.
"""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.test_net_isolation11 import E0, water  # noqa: F401 (the module's fixture)

DRY = {"a14", "a15", "i1", "m0", "m1", "b1", "e1", "e2", "h1", "h2", "h3"}


def test_geojson_holds_the_valves_not_needed_and_the_pipes_dry_already(water,  # noqa: F811
                                                                       tmp_path):
    out = tmp_path / "iso.geojson"
    proc = run_cli(["query", "isolate", "a11", "--sources", "S1,S2", "--geojson", str(out),
                    "--out-crs", "EPSG:4527"], water.env(), check=True)
    assert "dry already (no source reaches them, whatever bursts): 11 segments" in proc.stdout
    feats = json.loads(out.read_text(encoding="utf-8"))["features"]
    by_role: dict[str, set[str]] = {}
    for f in feats:
        by_role.setdefault(f["properties"]["role"], set()).add(f["properties"]["code"])
    assert by_role["valve_not_needed"] == {"V5"}
    assert by_role["dry_already"] == DRY
    # drawn where they are: the zone behind VC runs x 350..450 (a14 VC→Z1, a15 Z1→Z2)
    a14 = next(f for f in feats if f["properties"]["code"] == "a14")
    xs = [round(c[0] - E0, 3) for c in a14["geometry"]["coordinates"]]
    assert (xs[0], xs[-1]) == (350, 400)
