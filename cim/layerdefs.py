"""Each layer declared once: table, geometry, coding scheme and published columns.

Loaders, the bulk writer, the catalog, the OGC API configuration and (later) QGIS styles all
read these declarations instead of repeating table knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    pgtype: str  # PostgreSQL type used in staging tables and COPY
    title: str = ""


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

    @property
    def table(self) -> str:
        return self.name

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


BUILDINGS = LayerDef(
    name="buildings", title_zh="建筑物", title_en="Buildings",
    geometry_type="MULTIPOLYGON", code_scheme="feature", layer_code="81",
    class_dictionary="building_use", class_column="use_code",
    columns=(
        Column("name", "text", "建筑名称 name"),
        Column("use_code", "text", "用途代码 use code"),
        Column("use_name", "text", "建筑用途 use"),
        Column("structure", "text", "结构 structure"),
        Column("floors_above", "int4", "地上层数 floors above ground"),
        Column("floors_below", "int4", "地下层数 floors below ground"),
        Column("height", "float8", "建筑高度 height (m)"),
        Column("year_built", "int4", "建成年代 year built"),
        Column("district_code", "text", "行政区代码 district"),
        Column("grid_code", "text", "单元网格 grid cell"),
    ),
)

ADMIN_DIVISIONS = LayerDef(
    name="admin_divisions", title_zh="行政区划", title_en="Administrative divisions",
    geometry_type="MULTIPOLYGON", code_scheme="admin",
    columns=(Column("name", "text", "名称 name"), Column("level", "int2", "级别 level"),
             Column("parent_code", "text", "上级代码 parent")),
    assign_district=False, assign_grid=False,
)

GRID_CELLS = LayerDef(
    name="grid_cells", title_zh="单元网格", title_en="Unit grid cells",
    geometry_type="MULTIPOLYGON", code_scheme="grid",
    columns=(Column("name", "text", "名称 name"), Column("district_code", "text", "行政区 district"),
             Column("street_code", "text", "街道 street"),
             Column("community_code", "text", "社区 community")),
    assign_district=False, assign_grid=False,
)

_PIPE_CLASS_COLUMNS = (
    Column("pipe_class", "text", "管线大类代码 pipe class (01 给水 … 08 其他)"),
    Column("class_name", "text", "管线大类 pipe class"),
    Column("subclass_code", "text", "管线小类代码 subclass (CJJ 61, 00 unknown)"),
    Column("subclass_name", "text", "管线小类 subclass"),
    Column("feature_code", "text", "要素代码 CJJ 61 feature code (8 digits)"),
)

PIPE_POINTS = LayerDef(
    name="pipe_points", title_zh="管线点", title_en="Pipe points",
    geometry_type="POINTZ", code_scheme="feature", layer_code="82",
    class_dictionary="pipe_classes", class_column="pipe_class",
    columns=(
        Column("point_no", "text", "物探点号 survey point number"),
        Column("map_no", "text", "图上点号 map point number"),
        *_PIPE_CLASS_COLUMNS,
        Column("feature", "text", "特征 characteristic"),
        Column("appurtenance", "text", "附属物 appurtenance"),
        Column("ground_elevation", "float8", "地面高程 ground elevation (m)"),
        Column("survey_code", "text", "点编码 survey point code"),
        Column("road", "text", "道路名称 road"),
        Column("segment_code", "text", "所在管段 segment the appurtenance is on"),
        Column("note", "text", "备注 note"),
        Column("district_code", "text", "行政区代码 district"),
        Column("grid_code", "text", "单元网格 grid cell"),
    ),
)

PIPE_SEGMENTS = LayerDef(
    name="pipe_segments", title_zh="管线段", title_en="Pipe segments",
    geometry_type="LINESTRINGZ", code_scheme="feature", layer_code="83",
    class_dictionary="pipe_classes", class_column="pipe_class",
    columns=(
        *_PIPE_CLASS_COLUMNS,
        Column("start_point_no", "text", "起始点号 start point number"),
        Column("end_point_no", "text", "终止点号 end point number"),
        Column("start_point_code", "text", "起点编码 start point code"),
        Column("end_point_code", "text", "终点编码 end point code"),
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
        Column("status_code", "text", "状态代码 status code"),
        Column("status", "text", "状态 status"),
        Column("length_m", "float8", "长度 horizontal length (m)"),
        Column("district_code", "text", "行政区代码 district"),
        Column("grid_code", "text", "单元网格 grid cell"),
    ),
)

COMPONENTS = LayerDef(
    name="components", title_zh="城市部件", title_en="City-management components",
    geometry_type="GEOMETRY", code_scheme="component",
    class_dictionary="components", class_column="subclass_code",
    columns=(
        Column("name", "text", "部件名称 name"),
        Column("subclass_code", "text", "小类代码 subclass code"),
        Column("subclass_name", "text", "小类名称 subclass"),
        Column("major_code", "text", "大类代码 major class code"),
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
        Column("district_code", "text", "行政区代码 district"),
        Column("grid_code", "text", "单元网格 grid cell"),
    ),
    require_grid=True,
)

LAYERS: dict[str, LayerDef] = {d.name: d for d in (ADMIN_DIVISIONS, GRID_CELLS, BUILDINGS,
                                                   PIPE_POINTS, PIPE_SEGMENTS, COMPONENTS)}


def layer(name: str) -> LayerDef:
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(f"unknown layer {name!r}; known: {', '.join(LAYERS)}") from None
