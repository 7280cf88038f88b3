"""One source of the attributes' Chinese names (review 10): layers/styles/fields.py kept its
own names for the base columns (their titles in cim.layerdefs were English) and a fallback
list for the result tables' columns their LayerDefs leave out (health_indicators' run_id,
method, detail …, a case's description and address), so a column could be renamed in one
place and not the other. Now every name is the Chinese word opening a declared column's
title. Checked against a freshly migrated database: every column of every layer and result
table (information_schema), and every column the OGC API publishes, is declared with a
Chinese name, and the names planners read are the ones they read before (written here)."""

from __future__ import annotations

import pytest

from cim.db.schema import canonical_type
from cim.layerdefs import BASE_COLUMNS, GEOMETRY_COLUMN, LAYERS, Column
from layers.catalog import published_columns, result_layers
from layers.styles.fields import all_field_titles, chinese_title, field_titles, other_columns
from tests.conftest import make_db, server_url

DEFS = {**LAYERS, **{d.name: d for d in result_layers()}}
# the names QGIS and the web map showed for these columns before (fields.py's own lists)
BASE_NAMES = {"id": "行号", "code": "统一编码", "source_key": "来源标识", "batch_id": "入库批次",
              "valid_from": "生效时间", "valid_to": "失效时间", "row_hash": "内容哈希",
              "source_hash": "来源指纹", "flags": "标记", "attrs": "原始属性"}
RESULT_NAMES = {
    "health_indicators": {"detail": "详情", "run_id": "计算批次", "name_en": "英文名称",
                          "unit": "单位", "direction": "指标方向", "previous_year": "上一年份",
                          "change": "变化", "method": "计算方法"},
    "alarms": {"detail": "详情", "unit": "单位"},
    "cases": {"detail": "详情", "description": "描述", "address": "地址", "unit": "处置单位"},
}


@pytest.fixture(scope="module")
def mdb(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("fields10", jining_profile, apply_profile=False)
    yield d
    drop_database(server_url(), d.name)


def table_columns(db, table: str) -> dict[str, tuple[str, bool]]:
    return {n: (t, nn) for n, t, nn in db.rows(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
        "AND NOT a.attisdropped", (table,))}


def declaration(name: str, column: str) -> Column | None:
    d = DEFS[name]
    return next((c for c in (*BASE_COLUMNS, *d.columns, *other_columns().get(name, ()))
                 if c.name == column), None)


def test_the_base_columns_titles_open_with_their_chinese_names():
    assert {c.name: chinese_title(c.title) for c in BASE_COLUMNS} == BASE_NAMES


@pytest.mark.parametrize("name", sorted(DEFS))
def test_every_column_is_named_from_its_declaration(mdb, name):
    cols = table_columns(mdb, DEFS[name].table)
    assert cols, name
    titles = field_titles(name)
    for col in cols:
        if col == GEOMETRY_COLUMN:
            continue
        c = declaration(name, col)
        assert c is not None, f"{name}.{col}: in the table, declared nowhere"
        zh = chinese_title(c.title)
        assert zh, f"{name}.{col}: its title {c.title!r} opens with no Chinese name"
        assert titles[col] == zh, (name, col)
    # what the OGC API publishes is a table column, so named too
    for pc in published_columns(mdb.conninfo, DEFS[name].table):
        assert pc.name in titles, (name, pc.name)


@pytest.mark.parametrize("name", sorted(d.name for d in result_layers()))
def test_a_result_layers_other_columns_are_its_tables_and_stay_off_the_map(mdb, name):
    """Declared as the table has them (type, NOT NULL), and none of them a LayerDef column:
    the tiles carry a result layer's LayerDef columns only (no JSON detail)."""
    cols = table_columns(mdb, DEFS[name].table)
    other = other_columns()[name]
    assert other and not {c.name for c in other} & set(DEFS[name].column_names()), name
    for c in other:
        assert cols.get(c.name) == (canonical_type(c.db_type), c.required), (name, c.name)
    for c in DEFS[name].columns:
        assert c.name in cols, (name, c.name)


def test_the_names_planners_read_are_unchanged():
    every = all_field_titles()
    assert set(every) == set(DEFS)
    for name, titles in every.items():
        assert {k: titles[k] for k in BASE_NAMES} == BASE_NAMES, name
        assert titles[GEOMETRY_COLUMN] == "几何", name
    for name, names in RESULT_NAMES.items():
        assert {k: every[name][k] for k in names} == names, name
    # declared columns keep their own words (not a base or fallback name)
    assert every["risk_points"]["description"] == "风险描述"
    assert every["sensors"]["unit"] == "计量单位"
    assert every["buildings"]["name"] == "建筑名称"



def test_a_columns_unit_is_said_beside_its_name():
    """管径 300 — mm? — and a case's 时限 48 (hours, beside a deadline time in the same panel):
    the unit a column's title ends with is said in its Chinese name, on both maps."""
    titles = all_field_titles()
    assert titles["pipe_segments"]["diameter_mm"] == "管径(mm)"
    assert titles["cases"]["time_limit_h"].endswith("(h)")
    assert titles["buildings"]["height"].endswith("(m)")
    assert chinese_title("类型代码 type code (HX LVX LX ZX HUX)") == "类型代码"  # no unit
