"""District boundaries that leave a gap enclosed between them (a piece cut out of one
district where it meets another: a digitising slip): every component, building or pipe there
is rejected as outside_area, one row at a time, with nothing saying the boundaries are at
fault. Overlaps were noted; gaps now are, with their area and a point inside. The gap is a
100 m square cut from the first district along the shared edge: its area is known."""

from __future__ import annotations

import pyogrio
import shapely
from shapely.geometry import box

from loaders.divisions import load_districts
from tests.conftest import scratch_db


def test_a_gap_enclosed_between_districts_is_noted_with_its_area(jining_profile, tmp_path):
    with scratch_db("c12gaps", jining_profile, apply_profile=False) as d:
        gdf = pyogrio.read_dataframe(jining_profile.boundaries)
        a, b = gdf.geometry.iloc[0], gdf.geometry.iloc[1]
        shared = shapely.line_merge(a.boundary.intersection(b.boundary))
        mid = shared.interpolate(0.5, normalized=True)
        # a 100 m square on the first district's side of the shared edge, its edge on it
        inner = a.buffer(-1)
        for dx, dy in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            sq = box(mid.x, mid.y, mid.x + 100 * dx + (dy != 0) * 100,
                     mid.y + 100 * dy + (dx != 0) * 100)
            sq = shapely.geometry.box(*sq.bounds)
            if inner.intersection(sq).area > 0.5 * sq.area:
                break
        cut = a.difference(sq)
        gap = shapely.union(cut, b).interiors  # what the cut leaves between them
        gdf.loc[gdf.index[0], "geometry"] = cut
        path = tmp_path / "gapped.gpkg"
        pyogrio.write_dataframe(gdf, path)
        r = load_districts(d.conninfo, d.profile, path, mode="replace")
        assert r.loaded == 2, r.text()
        notes = [n for n in r.notes if "gap" in n]
        assert len(notes) == 1, r.notes
        want = shapely.geometry.Polygon(list(gap)[0]).area if list(gap) else 0
        assert want > 9000  # (the construction: the square, less what the edge takes)
        assert f"{want:,.0f} m²" in notes[0], (want, notes)
        # the delivered boundaries: no gap, no note
        r2 = load_districts(d.conninfo, d.profile, mode="replace")
        assert not [n for n in r2.notes if "gap" in n], r2.notes
