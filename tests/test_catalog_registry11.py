"""A result layer is declared once, in its room (review 11): the catalog named the three result
layers of its day (health, alarms, cases) by hand in each of its functions — the list, the map
condition, the unpublished columns, the live layers — and the styles' field names scanned the
loaded modules for an ``OTHER_COLUMNS``, so a fourth layer was on no map, or on the map with
every row, or with its private columns published, until each was edited. Now a room declares
``RESULT_LAYERS`` in its ``layer.py``, every fact a field of the LayerDef, and the catalog finds
it there. The new layer here is a room written to disk by the test and put among the rooms
(``layers.__path__``); nothing else is edited or patched."""

from __future__ import annotations

import sys
import textwrap

import psycopg
import pytest

import layers
import layers.catalog as catalog
from cim.db.engine import drop_database
from layers.styles import fields
from tests.conftest import make_db, server_url

NOISE_ROOM = '''
from cim.layerdefs import Column, LayerDef

NOISE = LayerDef(
    name="noise_levels11", title_zh="噪声监测", title_en="Noise levels",
    geometry_type="POINT", code_scheme="result", assign_district=False, assign_grid=False,
    columns=(Column("db_a", "float8", "声级 level dB(A)"),
             Column("state", "text", "状态 state")),
    map_where="state = 'over'",
    other_columns=(Column("detail", "jsonb", "详情 detail (JSON)", required=True),
                   Column("station_note", "text", "站点说明 note on the station")),
    unpublished=frozenset({"station_note"}),
    live=True)

RESULT_LAYERS = (NOISE,)
'''


def _room(monkeypatch, tmp_path, name: str, source: str) -> None:
    """A room ``layers.<name>`` with ``layer.py`` holding ``source``, among the rooms; the
    catalog's registry and the field names read again."""
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""A room of the test."""\n')
    (pkg / "layer.py").write_text(textwrap.dedent(source))
    monkeypatch.setattr(layers, "__path__", [*layers.__path__, str(tmp_path)])
    for mod in (f"layers.{name}", f"layers.{name}.layer"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    catalog._registry.cache_clear()
    fields._all.cache_clear()


@pytest.fixture
def noise_room(monkeypatch, tmp_path):
    _room(monkeypatch, tmp_path, "noise11", NOISE_ROOM)
    yield
    monkeypatch.undo()
    for mod in ("layers.noise11", "layers.noise11.layer"):
        sys.modules.pop(mod, None)
    catalog._registry.cache_clear()
    fields._all.cache_clear()


def test_a_result_layer_declared_in_its_room_is_in_every_function_of_the_catalog(noise_room):
    names = [d.name for d in catalog.result_layers()]
    assert "noise_levels11" in names
    assert {"cases", "health_indicators", "alarms"} <= set(names)  # the rooms' own still
    assert catalog.layer_defs()["noise_levels11"].title_zh == "噪声监测"
    assert catalog.map_where("noise_levels11") == "state = 'over'"
    assert catalog.unpublished("noise_levels11") == {"station_note"}
    assert "noise_levels11" in catalog.live_layers()
    assert "sensors" in catalog.live_layers()  # a loaded layer's own declaration
    other = fields.other_columns()["noise_levels11"]
    assert [c.name for c in other] == ["detail", "station_note"]
    titles = fields.field_titles("noise_levels11")
    assert (titles["db_a"], titles["station_note"], titles["valid_to"]) == \
        ("声级", "站点说明", "失效时间")


def test_the_catalog_of_a_database_lists_it_and_publishes_none_of_its_private_columns(
        jining_profile, monkeypatch, tmp_path):
    # the database first: `cim db upgrade` refuses a declared layer no migration made a table
    # for, and this room's table is made by hand below
    d = make_db("registry11", jining_profile, apply_profile=False)
    _room(monkeypatch, tmp_path, "noise11", NOISE_ROOM)
    try:
        with psycopg.connect(d.conninfo) as conn:
            conn.execute(
                "CREATE TABLE noise_levels11 (id bigserial PRIMARY KEY, code varchar(24) NOT "
                "NULL, valid_from timestamptz NOT NULL DEFAULT now(), valid_to timestamptz, "
                "db_a float8, state text, detail jsonb NOT NULL DEFAULT '{}', station_note "
                f"text, geom geometry(Point, {jining_profile.srid}) NOT NULL)")
            conn.execute("INSERT INTO noise_levels11 (code, db_a, state, station_note, geom) "
                         "VALUES ('N1', 71.5, 'over', '私人 note', ST_SetSRID(ST_MakePoint("
                         "39465000, 3916000), %s)), ('N2', 40, 'ok', NULL, ST_SetSRID("
                         "ST_MakePoint(39465100, 3916100), %s))",
                         (jining_profile.srid, jining_profile.srid))
        entry = next(e for e in catalog.catalog(d.conninfo) if e.layer.name == "noise_levels11")
        assert entry.count == 2 and entry.last_batch is None
        assert entry.bbox_storage == (39465000.0, 3916000.0, 39465100.0, 3916100.0)
        published = [c.name for c in catalog.published_columns(d.conninfo, "noise_levels11")]
        assert published == ["code", "valid_from", "valid_to", "db_a", "state", "detail"]
    finally:
        drop_database(server_url(), d.name)
        monkeypatch.undo()
        for mod in ("layers.noise11", "layers.noise11.layer"):
            sys.modules.pop(mod, None)
        catalog._registry.cache_clear()
        fields._all.cache_clear()


def test_a_layer_declared_twice_is_refused_naming_both_places(monkeypatch, tmp_path):
    _room(monkeypatch, tmp_path, "twice11", '''
        from cim.layerdefs import BUILDINGS
        RESULT_LAYERS = (BUILDINGS,)
        ''')
    try:
        with pytest.raises(RuntimeError, match=r"layers\.twice11\.layer\.RESULT_LAYERS: "
                           r"layer 'buildings' is declared in cim\.layerdefs"):
            catalog.result_layers()
    finally:
        monkeypatch.undo()
        sys.modules.pop("layers.twice11.layer", None)
        sys.modules.pop("layers.twice11", None)
        catalog._registry.cache_clear()


def test_a_room_declaring_no_layerdef_is_refused(monkeypatch, tmp_path):
    _room(monkeypatch, tmp_path, "bad11", 'RESULT_LAYERS = ("noise",)\n')
    try:
        with pytest.raises(RuntimeError, match=r"layers\.bad11\.layer\.RESULT_LAYERS: a tuple "
                           "of LayerDefs"):
            catalog.result_layers()
    finally:
        monkeypatch.undo()
        sys.modules.pop("layers.bad11.layer", None)
        sys.modules.pop("layers.bad11", None)
        catalog._registry.cache_clear()
