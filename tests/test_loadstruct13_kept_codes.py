"""The one note of the codes a load kept that no longer spell their feature
(``cim.coding.kept``, used by the component and the sensor loader), over codes built by
construction from the layout ``cim.coding.scheme`` owns: a component code is district 6 +
subclass 4 + serial 6, a feature code (a sensor's) district 6 + layer 2 + class 2 + serial 8.
The rows are written into temporary tables of the layers' names and columns on the test
server (never a platform database); each expected note is spelled from the parts its codes
were built of."""

from __future__ import annotations

import psycopg
import pytest

from cim.coding.kept import KEPT_NAMED, kept_code_notes
from cim.coding.scheme import decode, spelled
from cim.db.engine import psycopg_conninfo
from cim.layerdefs import COMPONENTS, SENSORS, LayerDef
from tests.conftest import server_url

A, B = "370811", "370826"  # the sample city's two districts
HEAD = "keep codes naming another district or {} than theirs now (codes kept across " \
    "reloads; the code reads as it was issued): "


def component(district: str, subclass: str, serial: int) -> str:
    return f"{district}{subclass}{serial:06d}"


def sensor(district: str, type_code: str, serial: int) -> str:
    return f"{district}92{type_code}{serial:08d}"


def test_a_code_spells_the_parts_it_was_built_of(jining_profile):
    c, s = component(A, "0102", 17), sensor(B, "04", 5)
    assert spelled(c, "component") == (A, "0102")
    assert spelled(s, "feature") == (B, "04")
    # and the decoder (cim code explain) reads them so
    dc, ds = decode(c, jining_profile), decode(s, jining_profile)
    assert (dc.district_code, dc.class_code, dc.serial) == (A, "0102", 17)
    assert (ds.district_code, ds.layer, ds.class_code, ds.serial) == (B, "sensors", "04", 5)


@pytest.fixture
def conn():
    with psycopg.connect(psycopg_conninfo(server_url())) as c:
        yield c
        c.rollback()  # the temporary tables go with the transaction


def _layer_table(conn: psycopg.Connection, layer: LayerDef, rows: list[tuple]) -> None:
    """A temporary table named as the layer's, with the columns the note reads (it hides
    nothing: the test server's database holds no platform table)."""
    conn.execute(f"CREATE TEMP TABLE {layer.table} (code text, district_code text, "
                 f"{layer.class_column} text, batch_id int, valid_to timestamptz) "
                 "ON COMMIT DROP")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {layer.table} VALUES (%s, %s, %s, %s, %s)", rows)


def test_components_moved_or_reclassed_are_named_with_what_their_code_says(conn):
    same, moved = component(A, "0101", 1), component(A, "0101", 2)
    reclassed, both = component(A, "0101", 3), component(B, "0201", 4)
    retired, elsewhere = component(A, "0101", 5), component(A, "0101", 6)
    _layer_table(conn, COMPONENTS, [
        (same, A, "0101", 7, None),
        (moved, B, "0101", 7, None),          # into the other district
        (reclassed, A, "0102", 7, None),      # another subclass
        (both, A, "0101", 7, None),           # both
        (retired, B, "0102", 7, "2026-01-01"),  # not current
        (elsewhere, B, "0102", 8, None)])     # another load's
    notes = kept_code_notes(conn, COMPONENTS, 7, class_word="subclass")
    assert notes == ["3 components " + HEAD.format("subclass")
                     + f"{moved} (code: {A} 0101, now: {B} 0101), "
                     f"{reclassed} (code: {A} 0101, now: {A} 0102), "
                     f"{both} (code: {B} 0201, now: {A} 0101)"]
    assert kept_code_notes(conn, COMPONENTS, 9, class_word="subclass") == []


def test_sensors_of_another_type_are_named_the_first_ones_and_the_rest_counted(conn):
    retyped = [sensor(A, "01", i) for i in range(1, KEPT_NAMED + 3)]  # 12, type 01 → 02
    moved = sensor(A, "03", 99)                                     # 370811 → 370826
    same = sensor(B, "05", 100)
    _layer_table(conn, SENSORS, [(c, A, "02", 3, None) for c in retyped]
                 + [(moved, B, "03", 3, None), (same, B, "05", 3, None)])
    notes = kept_code_notes(conn, SENSORS, 3, class_word="type", class_label="type ")
    named = [f"{c} (code: {A} type 01, now: {A} type 02)" for c in retyped[:KEPT_NAMED]]
    assert notes == [f"{KEPT_NAMED + 3} sensors " + HEAD.format("type") + ", ".join(named)
                     + " and 3 more"]
