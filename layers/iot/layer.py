"""``alarms`` as the catalog publishes it (OGC API collection, vector tiles, QGIS, web map).

Alarms are written by the ingest (:mod:`layers.iot.alarms`), not loaded, so the table is a
result layer listed by :func:`layers.catalog.result_layers` — and listed while still empty,
because the web map refreshes it live and must have it from the start. The one map shows the
active alarms (:data:`MAP_WHERE`); the OGC API every episode, cleared ones included.
"""

from __future__ import annotations

from cim.layerdefs import Column, LayerDef

# the table's other column: published by the OGC API collection and in the QGIS layer, not
# carried by the tiles (the declared columns); declared for its name (layers.styles.fields)
OTHER_COLUMNS = (
    Column("detail", "jsonb", "详情 detail (JSON)", required=True),
)

MAP_WHERE = "status = 'active'"

ALARMS = LayerDef(
    name="alarms", title_zh="监测告警", title_en="Sensor alarms",
    geometry_type="POINT", code_scheme="result", assign_district=False, assign_grid=False,
    # the map colours by level (红橙黄蓝) and identifies level, value and case at any zoom
    tile_fields=("level", "level_name", "color", "status", "kind", "type_name", "last_value",
                 "peak_value", "unit", "case_code", "device_id", "opened_at"),
    columns=(
        Column("sensor_code", "text", "设备编码 sensor code"),
        Column("device_id", "text", "设备编号 device id"),
        Column("type_code", "text", "监测类型代码 type code"),
        Column("type_name", "text", "监测类型 type"),
        Column("kind", "text", "告警类型 threshold | gap"),
        Column("level", "int2", "告警级别 level (1 一级 红 … 4 四级 蓝)"),
        Column("level_name", "text", "级别名称 level name"),
        Column("color", "text", "颜色 colour (红 橙 黄 蓝)"),
        Column("status", "text", "状态 active | cleared"),
        Column("threshold", "float8", "阈值 threshold"),
        Column("clear_at", "float8", "解除值 hysteresis bound"),
        Column("first_value", "float8", "首次值 first value"),
        Column("peak_value", "float8", "峰值 peak value"),
        Column("last_value", "float8", "最新值 last value"),
        Column("unit", "text", "单位 unit"),
        Column("opened_at", "timestamptz", "告警时间 opened at"),
        Column("last_at", "timestamptz", "最新时间 last reading at"),
        Column("cleared_at", "timestamptz", "解除时间 cleared at"),
        Column("asset_layer", "text", "监测对象图层 asset layer"),
        Column("asset_code", "text", "监测对象编码 asset code"),
        Column("district_code", "text", "行政区代码 district"),
        Column("grid_code", "text", "单元网格 grid cell"),
        Column("case_code", "text", "案件编号 case code"),
        Column("risk_code", "text", "风险点编码 risk point code"),
    ),
    map_where=MAP_WHERE, other_columns=OTHER_COLUMNS,
    live=True,  # raised and cleared by readings while the platform runs
)

# what the catalog lists of this room (layers.catalog.result_layers)
RESULT_LAYERS = (ALARMS,)
