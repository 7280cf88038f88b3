"""``cases`` as the catalog publishes it (OGC API collection, vector tiles, QGIS, web map).

Cases are written by the case loop (:mod:`layers.cases.store`), so the table is a result layer
of :func:`layers.catalog.result_layers`, listed while still empty (a live layer of the web
map). Personal data never reaches a published column: the reporter's name and phone live in
``case_contacts``, photos in ``case_attachments``, people in ``ops_users`` — none of them a
layer — and the case's free text (a citizen's own words may carry a name or a number) and its
JSON detail are not published either (:data:`UNPUBLISHED`), nor the address (a citizen's
12345 address is often their home; the point and the grid cell locate the case). The one map shows the open cases
(:data:`MAP_WHERE`: not in a final state of the city's workflow); the OGC API every case.
"""

from __future__ import annotations

from cim.layerdefs import Column, LayerDef

# columns of the table the services never publish: free text, JSON detail, and the address —
# a 12345 caller's address is often their home; the point and grid cell say where the case is
UNPUBLISHED = frozenset({"description", "detail", "address"})
# the table's other columns (those above): published nowhere — the planners' QGIS layer reads
# the view without them (cim/db/map_views.py, cim_map) — and read only by the case loop's own
# commands and API; declared for their names (layers.styles.fields), checked against the
# table by a test
OTHER_COLUMNS = (
    Column("description", "text", "描述 description as reported (not published)"),
    Column("address", "text", "地址 address as reported (not published)"),
    Column("detail", "jsonb", "详情 detail (JSON, not published)", required=True),
)
# the open cases: not in a final state of the city's case_workflow.yaml (the loop sets
# ``final`` on each transition, migration 0018) — the states' names are the city's to choose
MAP_WHERE = "NOT final"

CASES = LayerDef(
    name="cases", title_zh="城市管理案件", title_en="City-management cases",
    geometry_type="POINT", code_scheme="result", assign_district=False, assign_grid=False,
    tile_fields=("state", "source", "kind", "category_code", "category_name", "unit",
                 "deadline", "alarm_code", "reported_at"),
    columns=(
        Column("source", "text", "来源 source (巡查上报 传感告警 市民热线)"),
        Column("kind", "text", "问题类型 事件 | 部件"),
        Column("category_code", "text", "类别代码 category code (case_categories.csv)"),
        Column("category_name", "text", "类别 category"),
        Column("state", "text", "状态 state (上报 立案 派遣 处置 核查 结案 作废; 退回 is an "
               "action, not a state: case_workflow.yaml)"),
        Column("district_code", "text", "行政区代码 district"),
        Column("grid_code", "text", "单元网格 grid cell"),
        Column("asset_layer", "text", "涉及要素图层 asset layer"),
        Column("asset_code", "text", "涉及要素编码 asset code"),
        Column("alarm_code", "text", "告警编号 alarm code"),
        Column("unit", "text", "处置单位 responsible unit"),
        Column("unit_basis", "text", "派遣依据 how the unit was proposed"),
        Column("reported_at", "timestamptz", "上报时间 reported at"),
        Column("registered_at", "timestamptz", "立案时间 registered at"),
        Column("dispatched_at", "timestamptz", "派遣时间 dispatched at"),
        Column("handled_at", "timestamptz", "处置时间 handled at"),
        Column("verified_at", "timestamptz", "核查时间 verified at"),
        Column("closed_at", "timestamptz", "结案时间 closed at"),
        Column("deadline", "timestamptz", "处置时限 deadline"),
        Column("final", "boolean", "已终结 final (in a final state of case_workflow.yaml)",
               required=True),
        Column("time_limit_h", "float8", "时限 time limit (h)"),
    ),
    map_where=MAP_WHERE, other_columns=OTHER_COLUMNS, unpublished=UNPUBLISHED,
    live=True,  # cases move through the loop while the platform runs
)

# what the catalog lists of this room (layers.catalog.result_layers)
RESULT_LAYERS = (CASES,)

