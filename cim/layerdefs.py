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

LAYERS: dict[str, LayerDef] = {d.name: d for d in (ADMIN_DIVISIONS, GRID_CELLS, BUILDINGS)}


def layer(name: str) -> LayerDef:
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(f"unknown layer {name!r}; known: {', '.join(LAYERS)}") from None
