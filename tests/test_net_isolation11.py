"""Valve isolation with sources on a hand-drawn water network whose answers are known by
construction, and checked again against a plain breadth-first search over the segments' end
points written here (not the library's pieces and zones).

Metres from (E0, N0), EPSG:4527 (x east, y north); ● valves that are nodes; S1, S2, MS sources::

    S1(0,0) -a1- ●V1(50,0) -a2- P(100,0) -a3- ●V2(150,0) -a4- Q(200,0) -a5- ●V3(250,0) -a6- S2(300,0)
                                  |                            |   \\                          |
                                  a7                          a10   a11 ●V5(200,50) -a12- DE    a13
                                  |                            |                               |
                                R(100,-100) -a8- ●V4(150,-100) -a9- U(200,-100)    ●VC(350,0) closed
                                                                                  -a14- Z1 -a15- Z2
    island:  I1(0,500) -i1- I2(100,500)                     (no source: dry whatever bursts)
    main:    MS(-50,300) -m0- ●VM(0,300) -m1- MB(200,300)   (m1 not split at x = 100)
    branch:  ●VB(100,300) -b1- BE(100,350)                  (its valve VB lies on m1's interior)
    ends:    EA(0,700) -e1- ●EV(100,700);  EB(100,700) -e2- EC(200,700)  (EV, EB: one place)
    GIS:     HA(0,900) -h1- HB(100,900) -h2- HC(200,900) -h3- HD(300,900), valves along the
             pipes (points on them, no nodes: QWAT's): HV0 on h1 at 50, HV1 on h2 at its very
             start (HB's place), HV2 on h3 at 250

The ring is fed from both sides; Z1–Z2 is a pressure zone behind the closed valve VC (dry
before any burst); the island has no source.
"""

from __future__ import annotations

from collections import deque

import psycopg
import pytest
import shapely

from tests.conftest import drop_database, make_db, run_cli, server_url

E0, N0 = 39_480_000.0, 3_920_000.0
NODES = {"S1": (0, 0), "V1": (50, 0), "P": (100, 0), "V2": (150, 0), "Q": (200, 0),
         "V3": (250, 0), "S2": (300, 0), "R": (100, -100), "V4": (150, -100),
         "U": (200, -100), "V5": (200, 50), "DE": (200, 100), "VC": (350, 0), "Z1": (400, 0),
         "Z2": (450, 0), "I1": (0, 500), "I2": (100, 500), "MS": (-50, 300), "VM": (0, 300),
         "MB": (200, 300), "VB": (100, 300), "BE": (100, 350), "EA": (0, 700),
         "EV": (100, 700), "EB": (100, 700), "EC": (200, 700), "HA": (0, 900),
         "HB": (100, 900), "HC": (200, 900), "HD": (300, 900)}
PIPES = {"a1": "S1 V1", "a2": "V1 P", "a3": "P V2", "a4": "V2 Q", "a5": "Q V3", "a6": "V3 S2",
         "a7": "P R", "a8": "R V4", "a9": "V4 U", "a10": "U Q", "a11": "Q V5", "a12": "V5 DE",
         "a13": "S2 VC", "a14": "VC Z1", "a15": "Z1 Z2", "i1": "I1 I2", "m0": "MS VM",
         "m1": "VM MB", "b1": "VB BE", "e1": "EA EV", "e2": "EB EC", "h1": "HA HB",
         "h2": "HB HC", "h3": "HC HD"}
# valves along pipes: (pipe, position from its start in metres)
ALONG = {"HV0": ("h1", 50.0), "HV1": ("h2", 0.0), "HV2": ("h3", 50.0)}
VALVES = {"V1", "V2", "V3", "V4", "V5", "VC", "VM", "VB", "EV", *ALONG}
CLOSED = {"VC"}
SOURCES = ["S1", "S2", "MS", "EA", "HA"]


def _len(a: str, b: str) -> float:
    (x0, y0), (x1, y1) = NODES[a], NODES[b]
    return ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5


@pytest.fixture(scope="module")
def water(jining_profile):
    d = make_db("net_iso11", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        for k, (x, y) in NODES.items():
            conn.execute(
                "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
                "feature_code, appurtenance, attrs, geom) VALUES (%s, %s, '01', '给水', '00', "
                "'51002200', %s, %s, ST_GeomFromWKB(%s, 4527))",
                (k, k, "阀门" if k in VALVES else None,
                 '{"closed": true}' if k in CLOSED else "{}",
                 shapely.to_wkb(shapely.Point(E0 + x, N0 + y, 0.0))))
        for code, ends in PIPES.items():
            a, b = ends.split()
            line = shapely.LineString([(E0 + NODES[a][0], N0 + NODES[a][1], 0.0),
                                       (E0 + NODES[b][0], N0 + NODES[b][1], 0.0)])
            conn.execute(
                "INSERT INTO pipe_segments (code, flags, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, geom) VALUES (%s, '{no_z}', "
                "'01', '给水', '00', '51001000', %s, %s, ST_GeomFromWKB(%s, 4527))",
                (code, a, b, shapely.to_wkb(line)))
        for k, (pipe, m) in ALONG.items():
            a = PIPES[pipe].split()[0]
            xy = shapely.Point(E0 + NODES[a][0] + m, N0 + NODES[a][1], 0.0)  # pipes run east
            conn.execute(
                "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
                "feature_code, appurtenance, segment_code, attrs, geom) VALUES (%s, %s, '01', "
                "'给水', '00', '51002200', '阀门', %s, '{}', ST_GeomFromWKB(%s, 4527))",
                (k, k, pipe, shapely.to_wkb(xy)))
        # hydrants (消火栓) along h3, either side of its valve HV2
        for k, x in (("HY1", 225), ("HY2", 280)):
            conn.execute(
                "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
                "feature_code, appurtenance, segment_code, attrs, geom) VALUES (%s, %s, '01', "
                "'给水', '00', '51002200', '消火栓', 'h3', '{}', ST_GeomFromWKB(%s, 4527))",
                (k, k, shapely.to_wkb(shapely.Point(E0 + x, N0 + 900, 0.0))))
    yield d
    drop_database(server_url(), d.name)


class Search:
    """The answer by breadth-first search over the pipes' end points. The branch's valve VB
    sits on m1 at T (x = 100): m1 is the two halves VM–T and T–MB, and VB is joined to T by a
    stub of no length (the valve's flange, on the main's side)."""

    def __init__(self) -> None:
        self.edges: list[tuple[str, str, str, float]] = []  # (vertex, vertex, pipe, length)
        for code, ends in PIPES.items():
            a, b = ends.split()
            if code == "m1":
                self.edges += [("VM", "T", "m1", 100.0), ("T", "MB", "m1", 100.0),
                               ("T", "VB", "m1", 0.0)]
            elif code == "e2":  # e1's valve EV stands between e1 and e2 (EB at its place)
                self.edges += [("EV", "EB", "e2", 0.0), ("EB", "EC", "e2", 100.0)]
            elif code.startswith("h"):  # cut at its valve: a stub of no length at HB for h2
                k, m = next((k, m) for k, (p, m) in ALONG.items() if p == code)
                self.edges += [(a, k, code, m), (k, b, code, _len(a, b) - m)]
            else:
                self.edges.append((a, b, code, _len(a, b)))
        self.at: dict[str, list[int]] = {}
        for i, (a, b, _, _) in enumerate(self.edges):
            self.at.setdefault(a, []).append(i)
            self.at.setdefault(b, []).append(i)

    def spread(self, start: list[int], blocked: set[str], avoid: set[int] = frozenset()
               ) -> tuple[set[int], set[str]]:
        seen = {e for e in start if e not in avoid}
        met: set[str] = set()
        todo = deque(seen)
        while todo:
            e = todo.popleft()
            for w in self.edges[e][:2]:
                if w in blocked:
                    met.add(w)
                    continue
                for f in self.at[w]:
                    if f not in seen and f not in avoid:
                        seen.add(f)
                        todo.append(f)
        return seen, met

    def isolate(self, burst: list[int], sources: list[str]) -> dict:
        zone, met = self.spread(burst, VALVES)
        bound = {w for w in met if any(f not in zone for f in self.at[w])}
        close = bound - CLOSED
        start = [e for s in sources for e in self.at[s]]
        before, _ = self.spread(start, CLOSED)
        after, _ = self.spread(start, CLOSED | close, avoid=zone)
        every = set(range(len(self.edges)))

        def pipes(es):  # a stub of no length names no pipe
            return sorted({self.edges[e][2] for e in es if self.edges[e][3] > 0})

        return {"valves": sorted(v for v in close if any(f in after for f in self.at[v])),
                "closed_already": sorted(bound & CLOSED),
                "isolated_segments": pipes(zone),
                "length_m": sum(self.edges[e][3] for e in zone),
                "unsupplied_segments": pipes(before - after - zone),
                "dry_already_segments": pipes(every - before - zone)}

    def pipe(self, code: str, half: int | None = None) -> list[int]:
        es = [i for i, e in enumerate(self.edges) if e[2] == code and e[3] > 0]
        return es if half is None else [es[half]]


# (burst, at, by hand: valves to close, isolated, unsupplied, dry already)
CASES = [
    # the ring's middle: closed from both sides; nothing else loses water (fed from both
    # sides); the zone behind VC and the island were dry before: not this burst's outage
    ("a3", None, ["V1", "V2", "V4"], ["a2", "a3", "a7", "a8"], [], ["a14", "a15", "i1"]),
    # Q's zone: V5's far side is a dead end, dry once Q is shut, so V5 need not close
    ("a11", None, ["V2", "V3", "V4"], ["a10", "a11", "a4", "a5", "a9"], ["a12"],
     ["a14", "a15", "i1"]),
    # beside the closed valve, the source S2 in the zone: V3 closes, VC is closed already
    ("a13", None, ["V3"], ["a13", "a6"], [], ["a14", "a15", "i1"]),
    # the main's far half, the branch's valve at the tee: the main runs on through the tee,
    # so VM must close (closing VB alone left the burst fed from MS), VB need not (beyond it
    # only the branch, dry once VM is shut)
    ("m1", 0.75, ["VM"], ["m1"], ["b1"], ["a14", "a15", "i1"]),
    ("m1", 0.25, ["VM"], ["m1"], ["b1"], ["a14", "a15", "i1"]),
    # the pipe beyond a valve node whose place another node shares: that valve, fed by EA
    ("e2", None, ["EV"], ["e2"], [], ["a14", "a15", "i1"]),
    # a valve along a pipe at its very start: h2 bursts, HV1 shuts it from HB (the burst took
    # in HB's zone through the stub between HB and HV1: h1 up to HV0 emptied, HV1 left open);
    # beyond HV2 a dead end, dry once HV1 is shut
    ("h2", None, ["HV1"], ["h2", "h3"], ["h3"], ["a14", "a15", "i1"]),
    # h1 beyond HV0: h2 is not emptied (its stub at HB named it), only dried: HV1 need not
    # close (nothing feeds from beyond it)
    ("h1", 0.75, ["HV0"], ["h1"], ["h2", "h3"], ["a14", "a15", "i1"]),
]


@pytest.mark.parametrize("burst,at,valves,isolated,unsupplied,dry", CASES)
def test_isolation_with_sources_matches_a_search(water, burst, at, valves, isolated,
                                                 unsupplied, dry):
    from layers.query.isolation import isolate

    ref = Search()
    half = None if at is None else int(at > 0.5)
    want = ref.isolate(ref.pipe(burst, half), SOURCES)
    assert (want["valves"], want["isolated_segments"], want["unsupplied_segments"],
            want["dry_already_segments"]) == (valves, isolated, unsupplied, dry)
    got = isolate(water.conninfo, burst, SOURCES, at)
    for k in ("valves", "closed_already", "isolated_segments", "unsupplied_segments",
              "dry_already_segments"):
        assert got[k] == want[k], k
    assert got["length_m"] == pytest.approx(want["length_m"], abs=1e-3)
    assert got["dry_already_length_m"] == pytest.approx(50 + 50 + 100, abs=1e-3)


def test_a_valve_at_a_branch_tee_does_not_cut_the_main(water):
    from layers.query.isolation import isolate

    # without sources: the whole main between VM and its dead end MB is the zone, bounded by
    # VM and the branch's valve (it was the burst's half alone, bounded by VB alone)
    r = isolate(water.conninfo, "m1", at=0.75)
    assert (r["valves"], r["isolated_segments"], r["length_m"]) == (["VB", "VM"], ["m1"], 200)
    # the branch bursts: its valve alone
    r = isolate(water.conninfo, "b1")
    assert (r["valves"], r["isolated_segments"], r["length_m"]) == (["VB"], ["b1"], 50)
    # a valve node at a pipe's end where another pipe starts (its own node at the same place)
    # is no tee: the valve stands between the two, either side
    for burst in ("e1", "e2"):
        r = isolate(water.conninfo, burst)
        assert (r["valves"], r["isolated_segments"], r["length_m"]) == (["EV"], [burst], 100)


def test_sources_given_but_empty_or_missing_are_clear_errors(water, tmp_path):
    env = water.env()
    comments = tmp_path / "plants.txt"
    comments.write_text("# 水厂 (none yet)\n\n", encoding="utf-8")
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("# 水厂\nS1\n".encode("gbk"))
    for value, said in [(str(comments), f"sources file {comments} names no code"),
                        (",", "sources ',' names no code"),
                        (str(tmp_path / "nofile.txt"), "sources: no file"),
                        (str(gbk), f"sources file {gbk} is not UTF-8")]:
        out = run_cli(["query", "isolate", "a3", "--sources", value], env)
        # an empty list was an internal error (KeyError: 'sources_in_zone') after the answer
        assert out.returncode == 3 and said in out.stderr, out.stderr
        assert "internal error" not in out.stderr
    out = run_cli(["query", "isolate", "a11", "--sources", "S1,S2"], env, check=True)
    assert "need not close (dry beyond): V5" in out.stdout
    assert "dry already (no source reaches them, whatever bursts): 11 segments" in out.stdout  # MS, EA, HA not given


def test_geojson_draws_a_pipe_emptied_in_part_as_that_part(water, tmp_path):
    import json

    # h2 bursts, HA feeds: h3 is emptied from HC up to its valve HV2 (x 200..250) and dry
    # beyond (250..300); both were drawn as the whole of h3, once emptied and once dry
    out = tmp_path / "iso.geojson"
    run_cli(["query", "isolate", "h2", "--sources", "HA", "--geojson", str(out),
             "--out-crs", "EPSG:4527"], water.env(), check=True)
    feats = json.loads(out.read_text(encoding="utf-8"))["features"]
    h3 = {f["properties"]["role"]: f for f in feats if f["properties"]["code"] == "h3"}
    assert set(h3) == {"isolated", "unsupplied"}
    for role, (x0, x1) in (("isolated", (200, 250)), ("unsupplied", (250, 300))):
        xs = [round(c[0] - E0, 3) for c in h3[role]["geometry"]["coordinates"]]
        assert (xs[0], xs[-1]) == (x0, x1), role
        assert (h3[role]["properties"]["from"], h3[role]["properties"]["to"]) == \
            ((x0 - 200) / 100, (x1 - 200) / 100)
    # h2 (its stub at HB aside) emptied whole: drawn whole
    h2 = [f for f in feats if f["properties"]["code"] == "h2"]
    assert len(h2) == 1 and "from" not in h2[0]["properties"]
    xs = [round(c[0] - E0, 3) for c in h2[0]["geometry"]["coordinates"]]
    assert (xs[0], xs[-1]) == (100, 200)


def test_a_part_no_valve_bounds_is_said_not_close_nothing(water):
    # the island has no valve: "close 0 valves" alone read as nothing to do
    out = run_cli(["query", "isolate", "i1"], water.env(), check=True)
    assert "close 0 valves" in out.stdout and "no valve bounds it" in out.stdout
    out = run_cli(["query", "isolate", "a3"], water.env(), check=True)
    assert "no valve bounds it" not in out.stdout


def test_a_leak_at_a_hydrant_along_a_pipe_is_a_burst_there(water):
    from cim.errors import InputError
    from layers.query.isolation import isolate

    # HY2 beyond HV2: HV2 alone, h3's last 50 m ("not a pipe junction" before)
    r = isolate(water.conninfo, "HY2")
    assert (r["valves"], r["isolated_segments"], r["length_m"]) == (["HV2"], ["h3"], 50)
    assert r["parts"]["isolated"] == {"h3": [[0.5, 1.0]]}
    # HY1 before it: h2 and h3 up to HV2, between HV1 and HV2
    r = isolate(water.conninfo, "HY1")
    assert (r["valves"], r["isolated_segments"], r["length_m"]) == \
        (["HV1", "HV2"], ["h2", "h3"], 150)
    # a valve is no burst: the pipe beside it is
    with pytest.raises(InputError, match="HV2 is not a pipe junction.*give the pipe beside"):
        isolate(water.conninfo, "HV2")
