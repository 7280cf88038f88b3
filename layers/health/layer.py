"""``health_indicators`` as the catalog publishes it (OGC API collection, per unit polygon).

Not a loaded layer (no codes of the platform's schemes, no load batches), so it is declared
here and listed by :func:`layers.catalog.result_layers`, not in ``cim.layerdefs.LAYERS``: the
query library and the schema check keep to loaded layers. The one map (tiles, styles, QGIS
project) shows the latest year's district rows, :data:`MAP_WHERE`.
"""

from __future__ import annotations

from cim.cityclock import CHINA_TIME
from cim.layerdefs import Column, LayerDef

# The table's other columns: published by the OGC API collection and in the QGIS layer, not
# carried by the tiles, which carry the declared columns (services/tiles.py: no JSON detail,
# no computation bookkeeping); declared for their names (QGIS aliases, the OGC API's pages:
# layers.styles.fields) and checked against the table by a test
OTHER_COLUMNS = (
    Column("run_id", "int8", "计算批次 health run (health_runs.id)", required=True),
    Column("name_en", "text", "英文名称 indicator name in English"),
    Column("unit", "text", "单位 unit of the value"),
    Column("direction", "text", "指标方向 direction: up | down (which way is better)",
           required=True),
    Column("previous_year", "int4", "上一年份 previous stored year"),
    Column("change", "float8", "变化 change from the previous year's value"),
    Column("method", "text", "计算方法 how the value was computed"),
    Column("detail", "jsonb", "详情 detail (JSON)", required=True),
)

# The rows the one map shows (vector tiles, the QGIS project's subset): each district's row of
# the latest computed year that is not after the current one (Beijing time: the pilot cities'
# clock) — a plan-target scenario (`--future-year`, 2040) took the map over from the real
# check, and hid every later real year behind it; only scenarios stored, the latest of them.
# The city's row (the union of the districts) would cover them; earlier years stay in the
# OGC API collection.
MAP_WHERE = ("unit_kind = 'district' AND year = (SELECT coalesce(max(year) FILTER (WHERE "
             f"year <= extract(year FROM now() AT TIME ZONE '{CHINA_TIME}')), max(year)) "
             "FROM health_indicators WHERE valid_to IS NULL)")

HEALTH_INDICATORS = LayerDef(
    name="health_indicators", title_zh="城市体检指标", title_en="City health check indicators",
    geometry_type="MULTIPOLYGON", code_scheme="result",
    assign_district=False, assign_grid=False,
    # the one map draws one indicator by value (cim/dictionaries/styles.yaml): low-zoom tiles
    # carry what it filters, colours and labels by
    tile_fields=("year", "indicator_id", "name", "dimension", "unit_code", "unit_name",
                 "value", "score", "status"),
    columns=(
        Column("year", "int4", "年份 year"),
        Column("indicator_id", "text", "指标 indicator id"),
        Column("name", "text", "指标名称 indicator"),
        Column("dimension", "text", "维度 dimension"),
        Column("unit_kind", "text", "单元类型 city | district"),
        Column("unit_code", "text", "单元代码 district code or city"),
        Column("unit_name", "text", "单元名称 district or city name"),
        Column("value", "float8", "值 value"),
        Column("target", "float8", "目标 target"),
        Column("status", "text", "状态 met | not_met | no_target | no_data"),
        Column("score", "float8", "得分 score 0..1: min(1, value/target), up or down"),
        Column("previous_value", "float8", "上一年 previous year's value"),
        Column("trend", "text", "趋势 improved | worsened | unchanged"),
    ),
    map_where=MAP_WHERE, other_columns=OTHER_COLUMNS,
)

# what the catalog lists of this room (layers.catalog.result_layers)
RESULT_LAYERS = (HEALTH_INDICATORS,)
