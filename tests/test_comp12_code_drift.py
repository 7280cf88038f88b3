"""A component reloaded with another subclass (0101 上水井盖 → 0102 污水井盖) or moved into
another district keeps its code, as README's rule has it ("codes stay with a feature across
reloads") — but a GB/T 30428.2 code spells district and subclass, so the kept code then names
the old ones (`cim code explain` decodes 上水井盖 of 任城区 for a 污水井盖 in 微山县). That was
silent: the reload said only "1 updated". The report now names each such component, what its
code says and what it is. Expected values by construction: the rows written and changed."""

from __future__ import annotations

import csv

from loaders.components import load_components
from tests.conftest import scratch_db


def _write(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["编号", "部件小类", "X坐标", "Y坐标"])
        w.writerows(rows)


def test_a_reload_that_changes_class_or_district_names_the_codes_it_kept(jining_profile,
                                                                          tmp_path):
    with scratch_db("c12drift", jining_profile) as d:
        # a point well inside each district
        inner = dict(d.rows(
            "SELECT code, ST_AsText(ST_PointOnSurface(ST_Buffer(geom, -300))) "
            "FROM admin_divisions WHERE valid_to IS NULL AND level = 3 ORDER BY code"))
        import shapely

        (a, pa_), (b, pb_) = [(c, shapely.from_wkt(w)) for c, w in list(inner.items())[:2]]
        path = tmp_path / "部件.csv"
        rows = [["K1", "0101", f"{pa_.y:.3f}", f"{pa_.x:.3f}"],
                ["K2", "0101", f"{pa_.y + 10:.3f}", f"{pa_.x:.3f}"],
                ["K3", "0101", f"{pa_.y + 20:.3f}", f"{pa_.x:.3f}"]]
        _write(path, rows)
        first = load_components(d.conninfo, d.profile, path)
        assert (first.loaded, first.rejected) == (3, 0), first.text()
        codes = dict(d.rows("SELECT source_key, code FROM components WHERE valid_to IS NULL"))
        k1, k2 = codes["部件:K1"], codes["部件:K2"]
        assert k1[:10] == k2[:10] == f"{a}0101"
        assert not [n for n in first.notes if "codes kept" in n], first.notes
        rows[0][1] = "0102"                                     # K1: another subclass
        rows[1][2], rows[1][3] = f"{pb_.y:.3f}", f"{pb_.x:.3f}"  # K2: into the other district
        _write(path, rows)
        second = load_components(d.conninfo, d.profile, path)
        assert second.updated == 2 and second.rejected == 0, second.text()
        # the codes stay (README), the columns say what the feature is now
        now = {k: (c, s, dist) for k, c, s, dist in d.rows(
            "SELECT source_key, code, subclass_code, district_code FROM components "
            "WHERE valid_to IS NULL")}
        assert now["部件:K1"] == (k1, "0102", a) and now["部件:K2"] == (k2, "0101", b)
        notes = [n for n in second.notes if "codes kept" in n]
        assert len(notes) == 1, second.notes
        assert notes[0].startswith("2 components keep codes"), notes
        assert f"{k1} (code: {a} 0101, now: {a} 0102)" in notes[0], notes
        assert f"{k2} (code: {a} 0101, now: {b} 0101)" in notes[0], notes
        assert codes["部件:K3"] not in notes[0]
        # an unchanged reload says nothing more
        third = load_components(d.conninfo, d.profile, path)
        assert third.updated == 0 and not [n for n in third.notes if "codes kept" in n]
