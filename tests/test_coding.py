"""Unified codes: every issued code decodes, is unique, is stable on reload, never reused."""

from __future__ import annotations

import json

import pytest

from cim.coding.scheme import decode
from cim.errors import CodeError
from tests.conftest import run_cli


def test_every_issued_code_decodes_and_is_unique(db):
    codes = db.rows("SELECT code, layer, district_code, class_code FROM code_registry")
    assert len(codes) >= 1500 + 303 + 2
    assert len({c[0] for c in codes}) == len(codes)
    for code, layer, district, _cls in codes:
        d = decode(code, db.profile)
        assert d.layer == layer
        assert d.district_code == district
        assert d.district_name in ("任城区", "微山县")
    # the layers' current codes are registered codes, and unique platform-wide
    layer_codes = db.rows("SELECT code FROM buildings WHERE valid_to IS NULL UNION ALL "
                          "SELECT code FROM grid_cells WHERE valid_to IS NULL UNION ALL "
                          "SELECT code FROM admin_divisions WHERE valid_to IS NULL")
    assert len({c[0] for c in layer_codes}) == len(layer_codes)
    unregistered = db.scalar("SELECT count(*) FROM buildings b WHERE NOT EXISTS "
                             "(SELECT 1 FROM code_registry r WHERE r.code = b.code)")
    assert unregistered == 0


def test_building_code_carries_district_layer_and_use(db):
    rows = db.rows("SELECT code, district_code, use_code, use_name FROM buildings")
    for code, district, use_code, use_name in rows:
        assert len(code) == 18
        d = decode(code, db.profile)
        assert (d.district_code, d.layer_code, d.class_code) == (district, "81", use_code)
        assert d.class_name == use_name
        assert d.serial >= 1


def test_serials_are_dense_per_prefix_and_counters_agree(db):
    rows = db.rows("SELECT left(code, 10), count(*), max(right(code, 8)::int) FROM code_registry "
                   "WHERE layer = 'buildings' GROUP BY 1")
    for prefix, n, top in rows:
        assert n == top, prefix
        assert db.scalar("SELECT last_serial FROM code_counters WHERE prefix = %s",
                         (prefix,)) == top


@pytest.mark.parametrize("bad", ["12345", "37081181030000000A", "370811990100000001",
                                 "370811810300000000", "3708119901000001"])
def test_bad_codes_are_refused_with_a_reason(jining_profile, bad):
    with pytest.raises(CodeError):
        decode(bad, jining_profile)


def test_component_and_grid_codes_decode(jining_profile):
    d = decode("3708110101000001", jining_profile)
    assert (d.kind, d.class_name, d.serial, d.district_name) == ("component", "上水井盖", 1,
                                                                  "任城区")
    # digits 7–8 are the major class (GB/T 30428.2: 02 道路交通), never called a layer code —
    # the components' layer code is 00 (layers.csv), and 02 is the major class
    d = decode("3708110211000004", jining_profile).to_dict()
    assert (d["major_code"], d["major_name"], d["class_code"]) == ("02", "道路交通", "0211")
    assert "layer_code" not in d
    g = decode("370811001001001", jining_profile)
    assert (g.kind, g.street_code, g.community_code, g.serial) == ("grid", "370811001",
                                                                   "370811001001", 1)


def test_cli_code_explain_json(db):
    code = db.scalar("SELECT code FROM buildings ORDER BY id LIMIT 1")
    out = run_cli(["code", "explain", code, "--json"], db.env(), check=True).stdout
    d = json.loads(out)
    assert d["exists"] is True and d["layer"] == "buildings" and d["district_code"] == code[:6]
    assert d["class_name"] and d["serial"] == int(code[10:])
    missing = code[:10] + "99999999"
    d = json.loads(run_cli(["code", "explain", missing, "--json"], db.env(), check=True).stdout)
    assert d["exists"] is False


def test_cli_code_explain_bad_code_is_a_clear_error(db):
    p = run_cli(["code", "explain", "12AB"], db.env())
    assert p.returncode == 5
    assert "not all digits" in p.stderr and "Traceback" not in p.stderr


def test_allocator_serialises_concurrent_transactions_on_a_prefix(fresh_db):
    """Two open transactions allocate for the same prefix: the second waits, then continues."""
    import threading

    import psycopg

    from cim.coding.allocator import allocate_codes

    def stage(conn, keys):
        conn.execute("CREATE TEMP TABLE stg (row_no int, source_key text, prefix text, code text)")
        with conn.cursor().copy("COPY stg (row_no, source_key, prefix) FROM STDIN") as cp:
            for i, k in enumerate(keys):
                cp.write_row((i, k, "3708118101"))

    c1 = psycopg.connect(fresh_db.conninfo)
    c2 = psycopg.connect(fresh_db.conninfo)
    stage(c1, [f"t:a{i}" for i in range(50)])
    stage(c2, [f"t:b{i}" for i in range(50)])
    allocate_codes(c1, "stg", "buildings", 8, None)  # holds the prefix's counter row
    done = threading.Event()

    def second():
        allocate_codes(c2, "stg", "buildings", 8, None)
        c2.commit()
        done.set()

    t = threading.Thread(target=second)
    t.start()
    assert not done.wait(0.5), "the second allocation must wait for the first to commit"
    c1.commit()
    t.join(10)
    assert done.is_set()
    a = {r[0] for r in c1.execute("SELECT code FROM stg")}
    b = {r[0] for r in c2.execute("SELECT code FROM stg")}
    c1.close()
    c2.close()
    assert len(a) == len(b) == 50 and not a & b
    serials = sorted(int(c[-8:]) for c in a | b)
    assert serials == list(range(1, 101))
