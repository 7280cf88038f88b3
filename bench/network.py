"""Network analysis benchmark: the in-memory graph of layers.query.graph against pgRouting.

Run by hand from the repository root (never by the test suite), then record the table in
docs/benchmarks.md:

    .venv/bin/python -m bench.network               # QWAT + a 100,000-segment grid
    .venv/bin/python -m bench.network --side 100    # a smaller grid

Two networks, each in a database of its own (dropped at the end):

- QWAT (../shared/data/real/qwat_network.gpkg: 4,223 pipes, 2,312 valves) loaded with the pipe
  loader;
- a generated grid of side × side nodes 50 m apart (side 225: 100,800 water segments) with a
  valve at the middle of two segments in three (1 % of them closed; ``--sparse``: one in
  three, so the valve-free zones percolate and a burst empties half the grid), and the same
  grid as a storm sewer falling towards one corner (for traces), inserted with SQL.

Timed: the first call (reads the network and builds the arrays: the "load"), then the median
and p95 of isolations of random segments (with and without three sources) and of downstream
traces — each call as the CLI and the processes make it (connect, version check, answer). For
pgRouting (if the extension is installed: Debian postgresql-15-pgrouting), the cost of one call
over the same segments with integer node ids prepared beforehand: pgr_connectedComponents and
pgr_depthFirstSearch from one node (each call reads its edges and builds its graph).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.migrate import fresh_database

GRID_SQL = """
INSERT INTO pipe_points (code, geom, point_no, pipe_class, class_name, subclass_code,
                         feature_code, feature)
SELECT %(p)s || 'N' || i || '_' || j,
       ST_SetSRID(ST_MakePoint(2600000 + i * 50, 1200000 + j * 50, 0), 2056),
       i || '_' || j, %(cls)s, %(name)s, '00', '5' || %(digit)s || '002101', '三通'
FROM generate_series(0, %(n)s - 1) i, generate_series(0, %(n)s - 1) j;
INSERT INTO pipe_segments (code, geom, pipe_class, class_name, subclass_code, feature_code,
                           start_point_code, end_point_code, start_elevation, end_elevation,
                           length_m)
SELECT %(p)s || d || i || '_' || j,
       ST_SetSRID(ST_MakeLine(ST_MakePoint(2600000 + i * 50, 1200000 + j * 50, z0),
                              ST_MakePoint(2600000 + (i + di) * 50, 1200000 + (j + dj) * 50,
                                           z0 - %(fall)s)), 2056),
       %(cls)s, %(name)s, '00', '5' || %(digit)s || '001000',
       %(p)s || 'N' || i || '_' || j, %(p)s || 'N' || (i + di) || '_' || (j + dj),
       z0, z0 - %(fall)s, 50
FROM (SELECT i, j, d, di, dj, 100 - (i + j) * 0.1 AS z0
      FROM generate_series(0, %(n)s - 1) i, generate_series(0, %(n)s - 1) j,
           (VALUES ('H', 1, 0), ('V', 0, 1)) AS dir(d, di, dj)) g
WHERE i + di < %(n)s AND j + dj < %(n)s;
"""

VALVES_SQL = """
INSERT INTO pipe_points (code, geom, point_no, pipe_class, class_name, subclass_code,
                         feature_code, appurtenance, segment_code, attrs)
SELECT 'V' || s.code, ST_LineInterpolatePoint(s.geom, 0.5), 'V' || s.code, '01', '给水', '00',
       '51002202', '阀门', s.code,
       jsonb_build_object('closed', (row_number() OVER (ORDER BY s.code)) % 100 = 0)
FROM pipe_segments s WHERE s.pipe_class = '01' AND abs(hashtext(s.code)) % 3 {valved}
"""


def _server() -> str:
    from cim.config import Settings
    from cim.db.engine import server_url

    return server_url(Settings())


def _pct(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    return statistics.median(xs) * 1000, xs[int(0.95 * (len(xs) - 1))] * 1000


def _timed(fn, *args, **kw) -> float:
    t = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - t


def bench_library(conninfo: str, water: list[str], drains: list[str], sources: list[str],
                  runs: int) -> dict[str, float]:
    from layers.query import graph
    from layers.query.isolation import isolate
    from layers.query.trace import trace

    graph._CACHE.clear()
    out: dict[str, float] = {}
    out["load water (first isolate) ms"] = _timed(isolate, conninfo, water[0]) * 1000
    iso = [_timed(isolate, conninfo, s) for s in water[1:runs + 1]]
    out["isolate median ms"], out["isolate p95 ms"] = _pct(iso)
    if sources:
        iso = [_timed(isolate, conninfo, s, sources) for s in water[1:runs + 1]]
        out["isolate+sources median ms"], out["isolate+sources p95 ms"] = _pct(iso)
    if drains:
        out["load drainage (first trace) ms"] = _timed(trace, conninfo, drains[0]) * 1000
        tr = [_timed(trace, conninfo, s, "down") for s in drains[1:runs + 1]]
        out["trace down median ms"], out["trace down p95 ms"] = _pct(tr)
    return out


def bench_pgrouting(conninfo: str, runs: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
        except psycopg.Error as exc:
            print(f"pgRouting not available: {exc}".strip())
            return out
        t = time.perf_counter()
        conn.execute("""
            DROP TABLE IF EXISTS bench_nodes, bench_edges;
            CREATE TABLE bench_nodes AS
              SELECT row_number() OVER () AS id, code FROM (
                SELECT start_point_code AS code FROM pipe_segments
                WHERE valid_to IS NULL AND pipe_class = '01'
                UNION SELECT end_point_code FROM pipe_segments
                WHERE valid_to IS NULL AND pipe_class = '01') c;
            CREATE UNIQUE INDEX ON bench_nodes (code);
            CREATE TABLE bench_edges AS
              SELECT row_number() OVER () AS id, a.id AS source, b.id AS target,
                     s.length_m AS cost, s.length_m AS reverse_cost
              FROM pipe_segments s JOIN bench_nodes a ON a.code = s.start_point_code
              JOIN bench_nodes b ON b.code = s.end_point_code
              WHERE s.valid_to IS NULL AND s.pipe_class = '01';
            ANALYZE bench_nodes; ANALYZE bench_edges""")
        out["pgr prepare edge table ms"] = (time.perf_counter() - t) * 1000
        n = conn.execute("SELECT max(id) FROM bench_nodes").fetchone()[0]
        edges = "SELECT id, source, target, cost, reverse_cost FROM bench_edges"
        cc = [_timed(conn.execute, "SELECT count(*) FROM pgr_connectedComponents(%s)", (edges,))
              for _ in range(max(3, runs // 10))]
        out["pgr_connectedComponents median ms"], _ = _pct(cc)
        rnd = random.Random(7)
        dfs = [_timed(conn.execute, "SELECT count(*) FROM pgr_depthFirstSearch(%s, %s, "
                      "max_depth => 3)", (edges, rnd.randint(1, n)))
               for _ in range(max(3, runs // 10))]
        out["pgr_depthFirstSearch (depth 3) median ms"], _ = _pct(dfs)
    return out


def grid(side: int, runs: int, sparse: bool) -> dict[str, float]:
    name = "cim_bench_network_grid"
    url = fresh_database(_server(), name, 2056)
    conninfo = psycopg_conninfo(url)
    try:
        with psycopg.connect(conninfo) as conn:
            for p, cls, cname, digit in (("W", "01", "给水", "1"), ("D", "02", "排水", "2")):
                q = GRID_SQL.replace("%(fall)s", "0.05" if cls == "02" else "0")
                for stmt in filter(str.strip, q.split(";")):
                    conn.execute(stmt, {"p": p, "cls": cls, "name": cname, "digit": digit,
                                        "n": side})
            conn.execute(VALVES_SQL.format(valved="= 0" if sparse else "<> 0"))
            conn.commit()
            conn.execute("ANALYZE pipe_points")
            conn.execute("ANALYZE pipe_segments")
            water = [r[0] for r in conn.execute(
                "SELECT code FROM pipe_segments WHERE pipe_class = '01'")]
            drains = [r[0] for r in conn.execute(
                "SELECT code FROM pipe_segments WHERE pipe_class = '02'")]
        rnd = random.Random(1)
        rnd.shuffle(water)
        rnd.shuffle(drains)
        sources = ["WN0_0", f"WN{side - 1}_{side - 1}", f"WN0_{side - 1}"]
        out = {"segments (water)": len(water)}
        out |= bench_library(conninfo, water, drains, sources, runs)
        out |= bench_pgrouting(conninfo, runs)
        return out
    finally:
        drop_database(_server(), name)


def qwat(runs: int) -> dict[str, float]:
    from loaders.pipes.load import load_pipes_files
    from tests.conftest import profile_around, real_file
    from tests.test_pipes_real import MAPPING

    src = real_file("qwat_network.gpkg")
    name = "cim_bench_network_qwat"
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        profile = profile_around(src, "pipes", d, name="QWAT bench", admin_code="990500")
        (d / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
        url = fresh_database(_server(), name, profile.srid)
        conninfo = psycopg_conninfo(url)
        try:
            from loaders.divisions import load_districts

            load_districts(conninfo, profile, mode="replace")
            load_pipes_files(conninfo, profile, None, lines=f"{src}:pipes",
                             points=f"{src}:nodes", valves=f"{src}:valves",
                             mapping=d / "mapping.yaml", dataset="qwat")
            with psycopg.connect(conninfo) as conn:
                water = [r[0] for r in conn.execute(
                    "SELECT code FROM pipe_segments WHERE valid_to IS NULL "
                    "AND status_code IS DISTINCT FROM '1'")]
            random.Random(1).shuffle(water)
            out = {"segments (water)": len(water)}
            out |= bench_library(conninfo, water, [], [], runs)
            out |= bench_pgrouting(conninfo, runs)
            return out
        finally:
            drop_database(_server(), name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--side", type=int, default=225, help="grid side in nodes (225: 100,800)")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--skip-qwat", action="store_true")
    ap.add_argument("--sparse", action="store_true",
                    help="also a grid with valves on 1/3 of the segments: zones percolate and "
                         "one burst empties half the grid (worst case)")
    a = ap.parse_args()
    results = {}
    if not a.skip_qwat:
        results["QWAT"] = qwat(a.runs)
    results[f"grid {a.side}×{a.side}, valves on 2/3"] = grid(a.side, a.runs, False)
    if a.sparse:
        results[f"grid {a.side}×{a.side}, valves on 1/3 (zones percolate)"] = grid(
            a.side, a.runs, True)
    for net, r in results.items():
        print(f"\n{net}")
        for k, v in r.items():
            print(f"  {k:<42} {v:>10.1f}")


if __name__ == "__main__":
    main()
