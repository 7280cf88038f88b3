"""Each layer declared once: table, geometry, coding scheme, columns and indexes.

Loaders, the bulk writer, the catalog, the OGC API configuration and (later) QGIS styles all
read these declarations instead of repeating table knowledge. The migrations
(``cim/db/migrations``) are frozen snapshots of the schema; ``cim.db.schema.schema_drift``
compares a migrated database with these declarations (a test runs it), so the two cannot drift
apart silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    pgtype: str  # PostgreSQL type used in staging tables and COPY
    title: str = ""
    db: str | None = None  # type in the layer table when narrower than pgtype, e.g. varchar(2)
    required: bool = False  # NOT NULL in the layer table

    @property
    def db_type(self) -> str:
        return self.db or self.pgtype


@dataclass(frozen=True)
class Index:
    """An index every table of a layer must have (named ``{table}_{suffix}``)."""

    suffix: str
    columns: tuple[str, ...]
    unique: bool = False
    method: str = "btree"
    current_only: bool = True  # partial index over current versions (valid_to IS NULL)

    def name(self, table: str) -> str:
        return f"{table}_{self.suffix}"


# the columns every layer table has before its own (see the docstring of migration 0001); a
# title opens with the Chinese name planners read (QGIS aliases, the web map's feature info:
# layers.styles.fields), as every column's does
BASE_COLUMNS: tuple[Column, ...] = (
    Column("id", "int8", "行号 row id (one per version)", required=True),
    Column("code", "text", "统一编码 platform code", db="varchar(24)", required=True),
    Column("source_key", "text", "来源标识 source key: what keeps the code across reloads"),
    Column("batch_id", "int8", "入库批次 load batch"),
    Column("valid_from", "timestamptz", "生效时间 valid from", required=True),
    Column("valid_to", "timestamptz", "失效时间 valid to (NULL: current)"),
    Column("row_hash", "text", "内容哈希 content hash"),
    Column("source_hash", "int8", "来源指纹 fingerprint of the source row (migration 0009)"),
    Column("flags", "text[]", "标记 flags", required=True),
    Column("attrs", "jsonb", "原始属性 source attributes", required=True),
)
GEOMETRY_COLUMN = "geom"  # geometry(geometry_type, storage SRID), NOT NULL
GEOMETRY_TITLE = "几何 geometry"

# the indexes every layer table has: one current version per code, look-up by source key,
# spatial index
BASE_INDEXES: tuple[Index, ...] = (
    Index("code_current_uq", ("code",), unique=True),
    Index("source_key_current_idx", ("source_key",)),
    Index("geom_gist", (GEOMETRY_COLUMN,), method="gist", current_only=False),
)


@dataclass(frozen=True)
class LayerDef:
    name: str
    title_zh: str
    title_en: str
    geometry_type: str  # PostGIS type of the column, e.g. MULTIPOLYGON
    code_scheme: str  # admin | grid | component | feature
    layer_code: str | None = None  # 2 digits, for the 'feature' scheme
    class_dictionary: str | None = None
    class_column: str | None = None
    columns: tuple[Column, ...] = field(default_factory=tuple)
    assign_district: bool = True
    assign_grid: bool = True
    require_grid: bool = False  # reject features outside every grid cell (no_grid_cell)
    # an area that only touches a feature places it (share 0): pipe segments, whose nodes
    # are placed — a segment between two nodes on the city's boundary running outside
    # between them is no outside row (loaders.pipes.keys.segments_to_write)
    placed_by_touch: bool = False
    extra_indexes: tuple[Index, ...] = ()  # beyond BASE_INDEXES
    # vector tiles (services/tiles.py): no features below tile_min_zoom; below
    # tile_detail_zoom a tile carries only `code`, the class columns and tile_fields (what
    # the styles classify and label by), so low-zoom tiles stay small
    tile_fields: tuple[str, ...] = ()
    tile_min_zoom: int = 0
    tile_detail_zoom: int = 0
    # What the catalog (layers.catalog) hands every consumer from this one declaration, so a
    # layer — loaded here or a room's result layer (its `RESULT_LAYERS`) — is on the API,
    # tiles, styles and QGIS project without an edit anywhere else:
    # - map_where: the SQL condition on the current rows the one map shows (vector tiles, the
    #   QGIS project's subset), None for all; the OGC API serves every current row. Columns
    #   unqualified: the tiles alias the table, QGIS's provider does not (a subquery names
    #   its own columns apart, see POPULATION);
    # - other_columns: the table's columns beyond `columns` (JSON detail, bookkeeping), in the
    #   OGC API and the QGIS layer but not the tiles, declared for their Chinese names;
    # - unpublished: columns the services never publish (a case's free text);
    # - live: changes while the platform runs: served while empty, redrawn by the maps.
    map_where: str | None = None
    other_columns: tuple[Column, ...] = ()
    unpublished: frozenset[str] = frozenset()
    live: bool = False

    @property
    def table(self) -> str:
        return self.name

    def column_names(self) -> list[str]:
        """The layer's own columns (after the base columns and the geometry)."""
        return [c.name for c in self.columns]

    @property
    def indexes(self) -> tuple[Index, ...]:
        return BASE_INDEXES + self.extra_indexes

    def derived_columns(self) -> set[str]:
        """Columns the bulk writer fills from the database (spatial joins): a converter
        never gives them."""
        return ({"district_code"} if self.assign_district else set()) | \
            ({"grid_code"} if self.assign_grid else set())


BUILDINGS = LayerDef(
    name="buildings", title_zh="建筑物", title_en="Buildings",
    geometry_type="MULTIPOLYGON", code_scheme="feature", layer_code="81",
    class_dictionary="building_use", class_column="use_code",
    tile_fields=("use_name", "height", "floors_above"), tile_min_zoom=12, tile_detail_zoom=15,
    columns=(
        Column("name", "text", "建筑名称 name"),
        Column("use_code", "text", "用途代码 use code", db="varchar(2)"),
        Column("use_name", "text", "建筑用途 use"),
        Column("structure", "text", "结构 structure"),
        Column("floors_above", "int4", "地上层数 floors above ground"),
        Column("floors_below", "int4", "地下层数 floors below ground"),
        Column("height", "float8", "建筑高度 height (m)"),
        Column("year_built", "int4", "建成年代 year built"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
    ),
)

ADMIN_DIVISIONS = LayerDef(
    name="admin_divisions", title_zh="行政区划", title_en="Administrative divisions",
    geometry_type="MULTIPOLYGON", code_scheme="admin",
    columns=(Column("name", "text", "名称 name", required=True),
             Column("level", "int2", "级别 level", required=True),
             Column("parent_code", "text", "上级代码 parent", db="varchar(12)")),
    assign_district=False, assign_grid=False,
)

GRID_CELLS = LayerDef(
    name="grid_cells", title_zh="单元网格", title_en="Unit grid cells",
    geometry_type="MULTIPOLYGON", code_scheme="grid",
    columns=(Column("name", "text", "名称 name"),
             Column("district_code", "text", "行政区 district", db="varchar(6)", required=True),
             Column("street_code", "text", "街道 street", db="varchar(9)"),
             Column("community_code", "text", "社区 community", db="varchar(12)")),
    assign_district=False, assign_grid=False, tile_min_zoom=8,
)

_PIPE_CLASS_COLUMNS = (
    Column("pipe_class", "text", "管线大类代码 pipe class (01 给水 … 08 其他)", db="varchar(2)",
           required=True),
    Column("class_name", "text", "管线大类 pipe class", required=True),
    Column("subclass_code", "text", "管线小类代码 subclass (CJJ 61, 00 unknown)", db="varchar(2)",
           required=True),
    Column("subclass_name", "text", "管线小类 subclass"),
    Column("feature_code", "text", "要素代码 CJJ 61 feature code (8 digits)", db="varchar(8)",
           required=True),
)

PIPE_POINTS = LayerDef(
    name="pipe_points", title_zh="管线点", title_en="Pipe points",
    geometry_type="POINTZ", code_scheme="feature", layer_code="82",
    class_dictionary="pipe_classes", class_column="pipe_class",
    tile_fields=("class_name", "subclass_code", "feature_code", "feature", "appurtenance"),
    tile_min_zoom=12, tile_detail_zoom=15,
    columns=(
        Column("point_no", "text", "物探点号 survey point number", required=True),
        Column("map_no", "text", "图上点号 map point number"),
        *_PIPE_CLASS_COLUMNS,
        Column("feature", "text", "特征 characteristic"),
        Column("appurtenance", "text", "附属物 appurtenance"),
        Column("ground_elevation", "float8", "地面高程 ground elevation (m)"),
        Column("survey_code", "text", "点编码 survey point code"),
        Column("road", "text", "道路名称 road"),
        Column("segment_code", "text", "所在管段 segment the appurtenance is on",
               db="varchar(18)"),
        Column("note", "text", "备注 note"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
    ),
    extra_indexes=(Index("segment_current_idx", ("segment_code",)),),
)

PIPE_SEGMENTS = LayerDef(
    name="pipe_segments", title_zh="管线段", title_en="Pipe segments",
    geometry_type="LINESTRINGZ", code_scheme="feature", layer_code="83", placed_by_touch=True,
    class_dictionary="pipe_classes", class_column="pipe_class",
    tile_fields=("class_name", "subclass_code", "feature_code", "diameter_mm"),
    tile_min_zoom=12, tile_detail_zoom=15,
    columns=(
        *_PIPE_CLASS_COLUMNS,
        Column("start_point_no", "text", "起始点号 start point number"),
        Column("end_point_no", "text", "终止点号 end point number"),
        Column("start_point_code", "text", "起点编码 start point code", db="varchar(18)",
               required=True),
        Column("end_point_code", "text", "终点编码 end point code", db="varchar(18)",
               required=True),
        Column("start_depth", "float8", "起点埋深 start depth (m)"),
        Column("end_depth", "float8", "终点埋深 end depth (m)"),
        Column("start_elevation", "float8", "起点高程 start pipe elevation (m)"),
        Column("end_elevation", "float8", "终点高程 end pipe elevation (m)"),
        Column("material", "text", "材质 material"),
        Column("material_code", "text", "材质代码 material code"),
        Column("burial", "text", "埋设方式 burial method"),
        Column("burial_code", "text", "埋设方式代码 burial code"),
        Column("diameter_mm", "float8", "管径 diameter (mm)"),
        Column("width_mm", "float8", "断面宽 width (mm)"),
        Column("height_mm", "float8", "断面高 height (mm)"),
        Column("size_text", "text", "管径/断面 size as delivered"),
        Column("pressure", "text", "压力 pressure"),
        Column("voltage", "text", "电压 voltage"),
        Column("cable_count", "int4", "电缆条数/孔数 cables or ducts"),
        Column("owner", "text", "权属单位 owner"),
        Column("year_built", "int4", "建设年代 year built"),
        Column("road", "text", "道路名称 road"),
        Column("status_code", "text", "状态代码 status code", db="varchar(1)"),
        Column("status", "text", "状态 status"),
        Column("length_m", "float8", "长度 horizontal length (m)"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
    ),
    extra_indexes=(Index("start_point_current_idx", ("start_point_code",)),
                   Index("end_point_current_idx", ("end_point_code",))),
)

COMPONENTS = LayerDef(
    name="components", title_zh="城市部件", title_en="City-management components",
    geometry_type="GEOMETRY", code_scheme="component",
    class_dictionary="components", class_column="subclass_code",
    tile_fields=("subclass_name", "major_code", "major_name"), tile_min_zoom=12,
    tile_detail_zoom=15,
    columns=(
        Column("name", "text", "部件名称 name"),
        Column("subclass_code", "text", "小类代码 subclass code", db="varchar(4)", required=True),
        Column("subclass_name", "text", "小类名称 subclass", required=True),
        Column("major_code", "text", "大类代码 major class code", db="varchar(2)", required=True),
        Column("major_name", "text", "大类名称 major class"),
        Column("state", "text", "部件状态 state"),
        Column("currency", "text", "现势性 currency"),
        Column("initial_date", "date", "初始日期 initial date"),
        Column("change_date", "date", "变更日期 change date"),
        Column("dept_code", "text", "主管部门代码 department code"),
        Column("dept_name", "text", "主管部门 department"),
        Column("owner_code", "text", "权属单位代码 owner code"),
        Column("owner_name", "text", "权属单位 owner"),
        Column("maint_code", "text", "养护单位代码 maintainer code"),
        Column("maint_name", "text", "养护单位 maintainer"),
        Column("data_source", "text", "数据来源 data source"),
        Column("material", "text", "材质 material"),
        Column("location", "text", "位置描述 location"),
        Column("note", "text", "备注 note"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)",
               required=True),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)", required=True),
    ),
    require_grid=True,
    extra_indexes=(Index("subclass_current_idx", ("subclass_code",)),),
)

# -- planning control (规划管控, issue 11): regulatory-plan parcels, control lines, height zones
PLANNING_PARCELS = LayerDef(
    name="planning_parcels", title_zh="控规地块", title_en="Regulatory-plan parcels",
    geometry_type="MULTIPOLYGON", code_scheme="feature", layer_code="84",
    class_dictionary="land_use", class_column="land_use_code",
    tile_fields=("parcel_code", "max_far", "max_height"), tile_min_zoom=11,
    tile_detail_zoom=15,
    columns=(
        Column("parcel_code", "text", "地块编码 parcel code"),
        Column("land_use_code", "text", "用地代码 land-use code (国土空间调查、规划、用途管制用地用海分类)"),
        Column("land_use_name", "text", "用地性质 land use"),
        Column("max_far", "float8", "容积率上限 max floor area ratio"),
        Column("max_density", "float8", "建筑密度上限 max building density (0-1)"),
        Column("min_green_ratio", "float8", "绿地率下限 min green ratio (0-1)"),
        Column("max_height", "float8", "建筑限高 max height (m)"),
        Column("setback_road_m", "float8", "退道路红线 setback from road red lines (m)"),
        Column("setback_site_m", "float8", "退用地红线 setback from the site boundary (m)"),
        Column("setback_blue_m", "float8", "退蓝线 setback from blue lines (m)"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
    ),
    extra_indexes=(Index("parcel_code_current_idx", ("parcel_code",)),),
)

CONTROL_LINES = LayerDef(
    name="control_lines", title_zh="控制线", title_en="Planning control lines",
    geometry_type="GEOMETRY", code_scheme="feature", layer_code="85",
    class_dictionary="control_lines", class_column="line_type_code",
    tile_fields=("line_type", "name", "width_m"), tile_min_zoom=11, tile_detail_zoom=15,
    columns=(
        Column("line_type", "text", "控制线类型 type (道路红线 绿线 蓝线 紫线 黄线)",
               required=True),
        Column("line_type_code", "text", "类型代码 type code (HX LVX LX ZX HUX)", required=True),
        Column("name", "text", "名称 name"),
        Column("width_m", "float8", "红线宽度 width of a centre-line road red line (m)"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
    ),
    extra_indexes=(Index("line_type_current_idx", ("line_type_code",)),),
)

HEIGHT_ZONES = LayerDef(
    name="height_zones", title_zh="限高区", title_en="Height-limit zones",
    geometry_type="MULTIPOLYGON", code_scheme="feature", layer_code="86",
    class_dictionary="height_zone_types", class_column="zone_type",
    tile_fields=("name", "max_height"), tile_min_zoom=10, tile_detail_zoom=14,
    columns=(
        Column("zone_type", "text", "限高类型 type (机场净空 视线通廊 其他)", required=True),
        Column("name", "text", "名称 name"),
        Column("max_height", "float8", "限高 max height above ground (m)"),
        Column("max_elevation", "float8", "限制高程 max elevation above the datum (m)"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
    ),
)

# -- city base layers (issue 13): what the health check and the risk list are computed from
_PLACE_COLUMNS = (
    Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
    Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
)

ROADS = LayerDef(
    name="roads", title_zh="道路中心线", title_en="Roads",
    geometry_type="MULTILINESTRING", code_scheme="feature", layer_code="87",
    class_dictionary="road_classes", class_column="road_class_code",
    tile_fields=("road_class", "name", "red_line_width_m"), tile_min_zoom=10,
    tile_detail_zoom=14,
    columns=(
        Column("name", "text", "道路名称 name"),
        Column("road_class", "text", "道路等级 class (快速路 主干路 次干路 支路)", required=True),
        Column("road_class_code", "text", "等级代码 class code (road_classes.csv)",
               required=True),
        Column("red_line_width_m", "float8", "红线宽度 red-line width (m)"),
        Column("lanes", "int4", "车道数 lanes"),
        *_PLACE_COLUMNS,
    ),
    extra_indexes=(Index("road_class_current_idx", ("road_class_code",)),),
)

GREEN_SPACES = LayerDef(
    name="green_spaces", title_zh="绿地与公园", title_en="Green spaces and parks",
    geometry_type="MULTIPOLYGON", code_scheme="feature", layer_code="88",
    class_dictionary="green_types", class_column="green_type_code",
    tile_fields=("green_type", "name", "area_m2", "is_park"), tile_min_zoom=10,
    tile_detail_zoom=14,
    columns=(
        Column("name", "text", "名称 name"),
        Column("green_type", "text", "绿地类型 type (综合公园 社区公园 游园 …)", required=True),
        Column("green_type_code", "text", "类型代码 CJJ/T 85-2017 code (G11 G12 …)",
               required=True),
        Column("area_m2", "float8", "面积 area from the geometry (m²)", required=True),
        Column("is_park", "bool", "公园绿地 park (G1)", required=True),
        *_PLACE_COLUMNS,
    ),
    extra_indexes=(Index("green_type_current_idx", ("green_type_code",)),),
)

FACILITIES = LayerDef(
    name="facilities", title_zh="公共服务设施", title_en="Public service facilities",
    geometry_type="POINT", code_scheme="feature", layer_code="89",
    class_dictionary="facility_types", class_column="facility_type_code",
    tile_fields=("facility_type", "name"), tile_min_zoom=11, tile_detail_zoom=14,
    columns=(
        Column("name", "text", "设施名称 name"),
        Column("facility_type", "text", "设施类型 type (幼儿园 小学 …)", required=True),
        Column("facility_type_code", "text", "类型代码 type code (facility_types.csv)",
               required=True),
        Column("capacity", "int4", "规模 capacity (places, beds …)"),
        *_PLACE_COLUMNS,
    ),
    extra_indexes=(Index("facility_type_current_idx", ("facility_type_code",)),),
)

# The one map's population: a unit's figure of its latest year and, of two deliveries naming
# the unit for that year, the one loaded last (valid_from, then id: the rule the health check
# and the risk grading count by, layers/health/population.py). Every year's row is current, so
# without it the map drew each year on the unit's footprint, labels over each other; the OGC
# API keeps every year. A row is shown when no current row of its unit is newer. The subquery
# renames its columns (k u y f i), so the unqualified names can only be the outer row's: the
# tiles' `p`, QGIS's table (one condition for both); it reads the unit index per row.
POPULATION_LATEST = (
    "NOT EXISTS (SELECT 1 FROM (SELECT unit_kind AS k, unit_code AS u, year AS y, "
    "valid_from AS f, id AS i FROM population WHERE valid_to IS NULL) newer "
    "WHERE newer.u = unit_code AND newer.k = unit_kind "
    "AND (newer.y, newer.f, newer.i) > (year, valid_from, id))")

POPULATION = LayerDef(
    name="population", title_zh="人口", title_en="Population",
    geometry_type="GEOMETRY", code_scheme="feature", layer_code="90",
    class_dictionary="population_units", class_column="unit_kind",
    tile_fields=("residents", "year"), tile_min_zoom=11, tile_detail_zoom=14,
    map_where=POPULATION_LATEST,
    columns=(
        Column("unit_kind", "text", "统计单元 unit (building | grid)", required=True),
        Column("unit_code", "text", "单元编码 building or grid-cell code", required=True),
        Column("residents", "int4", "常住人口 residents", required=True),
        Column("year", "int4", "年份 year", required=True),
        *_PLACE_COLUMNS,
    ),
    extra_indexes=(Index("unit_current_idx", ("unit_code",)),),
)

# -- the risk list (城市治理风险清单, issue 13): risk points graded 红橙黄蓝 (layers/risk)
RISK_POINTS = LayerDef(
    name="risk_points", title_zh="风险点", title_en="Risk points",
    geometry_type="POINT", code_scheme="feature", layer_code="91",
    class_dictionary="risk_domains", class_column="domain_code",
    tile_fields=("level", "color", "risk_type"), tile_min_zoom=8, tile_detail_zoom=14,
    columns=(
        Column("risk_type_code", "text", "风险类型代码 type code (risk_types.csv)",
               required=True),
        Column("risk_type", "text", "风险类型 type"),
        Column("domain_code", "text", "领域代码 domain code", db="varchar(2)", required=True),
        Column("domain", "text", "风险领域 domain"),
        Column("asset_layer", "text", "关联图层 layer of the asset"),
        Column("asset_code", "text", "关联要素编码 code of the asset", db="varchar(24)"),
        Column("description", "text", "风险描述 description"),
        Column("responsible_unit", "text", "责任单位 responsible unit"),
        Column("likelihood", "int4", "可能性 likelihood (1-5)", required=True),
        Column("consequence", "int4", "后果严重性 consequence (1-5)", required=True),
        Column("level", "text", "风险等级 level (重大 较大 一般 低)", required=True),
        Column("color", "text", "风险颜色 colour (红 橙 黄 蓝)", required=True),
        Column("measure", "text", "管控措施 control measure"),
        Column("measure_unit", "text", "措施责任单位 unit responsible for the measure"),
        Column("deadline", "date", "整改期限 deadline"),
        Column("measure_status", "text", "措施状态 status (待落实 落实中 已落实)"),
        Column("source", "text", "来源 source (rule | manual)", required=True),
        Column("rule_id", "text", "生成规则 rule (risk_rules.yaml)"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
    ),
    extra_indexes=(Index("level_current_idx", ("level",)),
                   Index("asset_current_idx", ("asset_code",))),
    live=True,  # raised and restored in place by the alarms on its asset (layers/iot)
)

# -- lifeline monitoring (城市生命线, issue 14): the sensor registry, a layer loaded from the
# vendor's registry file (`cim load sensors`); readings, alarms and cases live in layers/iot and
# layers/cases (migration 0008)
SENSORS = LayerDef(
    name="sensors", title_zh="监测设备", title_en="Monitoring sensors",
    geometry_type="POINT", code_scheme="feature", layer_code="92",
    class_dictionary="sensor_types", class_column="type_code",
    tile_fields=("type_name", "status", "device_id"), tile_min_zoom=10, tile_detail_zoom=15,
    columns=(
        Column("device_id", "text", "设备编号 device id (the vendor's)", required=True),
        Column("name", "text", "名称 name"),
        Column("type_code", "text", "监测类型代码 type code (sensor_types.csv)", db="varchar(2)",
               required=True),
        Column("type_name", "text", "监测类型 type"),
        Column("unit", "text", "计量单位 unit"),
        Column("asset_layer", "text", "监测对象图层 layer of the watched asset"),
        Column("asset_code", "text", "监测对象编码 code of the watched asset", db="varchar(24)"),
        Column("asset_class", "text", "监测对象类别 class of the asset (thresholds per class)"),
        Column("install_date", "date", "安装日期 install date"),
        Column("status", "text", "状态 status (运行 停用 维修)", required=True),
        Column("interval_s", "int4", "上报周期 reporting interval (s)"),
        Column("reading_source", "text", "数据来源 source allowed to send its readings"),
        Column("district_code", "text", "行政区代码 district", db="varchar(6)"),
        Column("grid_code", "text", "单元网格 grid cell", db="varchar(15)"),
    ),
    extra_indexes=(Index("device_current_uq", ("device_id",), unique=True),
                   Index("asset_current_idx", ("asset_code",))),
    live=True,  # registered and retired while the platform runs
)

LAYERS: dict[str, LayerDef] = {d.name: d for d in (ADMIN_DIVISIONS, GRID_CELLS, BUILDINGS,
                                                   PIPE_POINTS, PIPE_SEGMENTS, COMPONENTS,
                                                   PLANNING_PARCELS, CONTROL_LINES,
                                                   HEIGHT_ZONES, ROADS, GREEN_SPACES,
                                                   FACILITIES, POPULATION,
                                                   RISK_POINTS, SENSORS)}


# the entry-point group under which a room registers the function giving every layer it
# knows by name (setup.cfg: layers.catalog.layer_defs): how the core reaches the rooms' result
# layers without importing a room above it, as cim.cli reaches their commands
CATALOG_GROUP = "cim.catalog"


def declared_layers() -> dict[str, LayerDef]:
    """Every declared layer by name: the loaded ones (:data:`LAYERS`), then those the rooms
    declare (health indicators, alarms, cases …), from the catalog registered under
    :data:`CATALOG_GROUP` — for the core's own uses of the whole list (the planners' grants
    and views, cim/db/roles.py and cim/db/map_views.py)."""
    from importlib.metadata import entry_points

    out = dict(LAYERS)
    for ep in sorted(entry_points(group=CATALOG_GROUP), key=lambda e: e.name):
        out.update(ep.load()())
    return out


def layer(name: str) -> LayerDef:
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(f"unknown layer {name!r}; known: {', '.join(LAYERS)}") from None
