"""What reading a pipe delivery hands to QA and loading, and what a pipe load reports.

Kept apart from the readers and the writer so that both kinds of delivery (survey tables and
GIS layers) and the loader share one shape without importing each other. The point and
segment records are what the readers produce and the checks and the writer consume.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from loaders.engine.report import LoadReport
from loaders.pipes.dictionaries import Feature, PipeClass
from loaders.sources.tables import Mapping as TableMapping


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a delivery is read, checked or written.

    A delivery is hundreds of thousands of records that live until the load ends; the
    collector's full passes, triggered by allocation counts, walk all of them again and
    again (100,000 survey segments: 11 passes, ~2.4 s of ~9.5 s CPU in read and QA).
    Reference counting still frees everything that is not a cycle; the collector runs as
    usual again afterwards. Nested uses leave it to the outermost."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# -- records of one delivery -------------------------------------------------------------------------------
# which of a table's columns a loaded row keeps in its attrs: their names, and a function
# taking their values out of a row's values (one for all the table's rows)
StoredView = tuple[tuple[str, ...], Callable[[tuple], tuple]]


def stored_view(names: tuple[str, ...], keep: list[int]) -> StoredView:
    """The view of ``names`` at the positions ``keep`` (in order)."""
    if len(keep) == 1:
        j = keep[0]
        return (names[j],), lambda v: (v[j],)
    if not keep:
        return (), lambda v: ()
    return tuple(names[j] for j in keep), itemgetter(*keep)


def held_out(names: tuple[str, ...], fields: dict[str, str], columned: frozenset[str],
             mapping: TableMapping, section: str) -> StoredView:
    """Which of a table's ``names`` a loaded row keeps in attrs: all but the fields
    (attribute → name) of ``columned`` attributes — kept as delivered where the mapping file
    translates the attribute's values or gives it a default (the column may then hold a
    value nobody delivered: the blank cell stays)."""
    held = {fields[a] for a in fields if a in columned and not mapping.values.get(a)
            and mapping.value(section, a, None) is None}
    return stored_view(names, [j for j, n in enumerate(names) if n not in held])


# what the loader adds to a row's attrs — where it came from: its table (file) and row in the
# delivery, the segment a line end was derived from — unless the delivery has such columns:
# no content, left out when a reload compares the attrs (a delivery re-sorted is the same)
PROVENANCE = ("_table", "_row", "_derived_from")
# the table of the nodes the loader makes at line ends (loaders.pipes.topology): no source's
LINE_ENDS = "(line ends)"


class RowAttrs(Mapping):
    """A delivered row's attributes as read, read-only: the names of its table's columns
    (one tuple shared by the table's rows) and the row's values. A dict a row took 0.8 KB
    for a survey table's ~20 columns, a delivery's rows all held until the load ends; this
    takes the values' tuple. ``dict(attrs)`` where a dict is needed (JSON of a reject). The
    names are unique (a table whose headers repeat one keeps its rows' attributes as dicts).

    ``stored``: which of them the loaded row keeps in its ``attrs`` column (:meth:`stored`)
    — those whose value no column of the layer holds; None: all of them."""

    __slots__ = ("_names", "_values", "_stored")

    def __init__(self, names: tuple[str, ...], values: tuple[Any, ...],
                 stored: StoredView | None = None) -> None:
        self._names, self._values, self._stored = names, values, stored

    def stored(self) -> RowAttrs:
        """The attributes the loaded row keeps in its ``attrs`` column (a reject keeps them
        all)."""
        if self._stored is None:
            return self
        names, take = self._stored
        return RowAttrs(names, take(self._values))

    def storing(self, stored: StoredView | None) -> RowAttrs:
        """The same attributes, the loaded row keeping ``stored`` of them."""
        return RowAttrs(self._names, self._values, stored)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[self._names.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def names(self) -> tuple[str, ...]:
        """The column names, in order (the tuple the table's rows share)."""
        return self._names

    def row(self) -> tuple[Any, ...]:
        """The values, in the names' order."""
        return self._values

    def __repr__(self) -> str:
        return f"RowAttrs({dict(self)!r})"


# slots: a delivery holds hundreds of thousands of records until the load ends; a record's
# __dict__ took 0.3 KB (points) to 1.6 KB (segments) of memory
@dataclass(slots=True)
class PointRec:
    seq: int  # running number of the row in the delivery (unique per load)
    table: str
    row: int
    attrs: dict[str, Any] | RowAttrs
    cls: PipeClass | None = None
    point_no: str | None = None
    map_no: str | None = None
    feature_raw: str | None = None
    appurtenance_raw: str | None = None
    feature: Feature | None = None
    appurtenance: Feature | None = None
    x: float | None = None  # survey X (northing) or GIS easting, as read
    y: float | None = None
    ground: float | None = None
    survey_code: str | None = None
    road: str | None = None
    note: str | None = None
    segment_id: str | None = None
    role: str = "node"  # node (topology) | valve (appurtenance attached to a segment)
    e: float | None = None  # storage CRS easting / northing, set by the loader
    n: float | None = None
    z: float | None = None  # GIS layers: the point's Z as delivered (ground is 地面高程 if given)
    ground_from_z: bool = False  # GIS layers: 地面高程 blank in its column, its Z taken instead
    delivered: Any = None  # GIS layers: the geometry as delivered (delivery CRS), for rejects
    problems: list[tuple[str, str, Any, str]] = field(default_factory=list)
    # what the loader adds to the loaded row's attrs (``_geometry_z`` …): none of the
    # delivered columns', never a reject's
    extra: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(class, number) of a node; appurtenances have keys of their own."""
        cls = self.cls.key if self.cls else ""
        return (cls if self.role == "node" else f"{cls}/{self.role}", self.point_no or "")

    @property
    def label(self) -> str:
        return self.point_no or f"row {self.row}"


@dataclass(slots=True)
class SegRec:
    seq: int
    table: str
    row: int
    attrs: dict[str, Any] | RowAttrs
    cls: PipeClass | None = None
    source_id: str | None = None
    start_no: str | None = None
    end_no: str | None = None
    start_depth: float | None = None
    end_depth: float | None = None
    start_elevation: float | None = None
    end_elevation: float | None = None
    material_raw: str | None = None
    material: tuple[str, str] | None = None
    burial_raw: str | None = None
    burial: tuple[str, str] | None = None
    diameter: float | None = None
    width: float | None = None
    height: float | None = None
    size_text: str | None = None
    pressure: str | None = None
    voltage: str | None = None
    cable_count: int | None = None
    owner: str | None = None
    year: int | None = None
    road: str | None = None
    status_raw: str | None = None
    status: tuple[str, str] | None = None
    note: str | None = None
    line: Any = None  # storage-CRS shapely LineString of a GIS layer (None for survey tables)
    delivered: Any = None  # GIS layers: the geometry as delivered (delivery CRS), for rejects
    problems: list[tuple[str, str, Any, str]] = field(default_factory=list)
    # GIS layers with node ids (loaders.pipes.topology._orient, _off_node): whether the line was
    # drawn from its end node to its start node (and is stored turned), how far each end lies
    # from its node where that is more than the snapping tolerance (None: within it)
    drawn_reversed: bool = False
    off_node: tuple[float | None, float | None] = (None, None)
    # GIS layers with node ids and a point layer (loaders.pipes.topology._absent_ends): each
    # end whose id the point layer lacks, (end, id, the point layer, the delivered point lying
    # at the line's end or None, its distance)
    absent: tuple[tuple[str, str, str, Any, float | None], ...] = ()
    extra: dict[str, Any] | None = None  # as PointRec.extra
    # resolved by the checks
    z_start: float | None = None
    z_end: float | None = None
    length: float | None = None

    def key(self, which: str) -> tuple[str, str]:
        no = self.start_no if which == "start" else self.end_no
        return (self.cls.key if self.cls else "", no or "")

    @property
    def label(self) -> str:
        if self.source_id and not (self.start_no and self.end_no):
            return self.source_id
        ends = f"{self.start_no or '?'}-{self.end_no or '?'}"
        if self.source_id and (self.start_no or "").startswith("N@"):
            return f"{self.source_id} ({ends})"  # ends made by snapping: the delivered id first
        return ends

    @property
    def ids(self) -> list[str]:
        out = [self.source_id] if self.source_id else []
        return out + [v for v in (self.start_no, self.end_no) if v]



# the Chinese column name a problem or reject names, as the surveyor reads it in the delivery
FIELD_ZH = {"point_no": "物探点号", "x": "X", "y": "Y", "ground_elevation": "地面高程",
            "start_no": "起始点号", "end_no": "终止点号", "class": "管线类别",
            "start_depth": "起点埋深", "end_depth": "终点埋深",
            "start_elevation": "起点高程", "end_elevation": "终点高程",
            "geometry": "geometry"}


def column_name(columns: Mapping[str, Mapping[str, str]], rec: PointRec | SegRec,
                *attrs: str) -> str:
    """The delivered column(s) of ``attrs`` in the record's table, as the surveyor finds them
    there (``columns``: :attr:`Delivery.columns`), joined by ``/``; an attribute the table has
    no column for is named as :data:`FIELD_ZH` names it."""
    cols = columns.get(rec.table) or {}
    return "/".join(cols.get(a) or FIELD_ZH.get(a, a) for a in attrs)


@dataclass
class Delivery:
    """A parsed delivery: records, where they came from and how coordinates were read."""

    points: list[PointRec]
    segments: list[SegRec]
    tables: list[str]
    survey: bool
    source_crs: str | None = None
    source_srid: int | None = None
    notes: list[str] = field(default_factory=list)
    derived_nodes: int = 0  # GIS: topology nodes made from line ends (not read from a file)
    # table → attribute → the delivered column it was read from (rejects and findings name
    # the column as the table has it: 点号, 起点号 …)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # every file read
    inputs: list[Path] = field(default_factory=list)  # the paths given (files or folders)
    # tables with rows that were read as no point or segment table (a folder's other files,
    # a workbook's other sheets): a replace load refuses to retire what they may hold
    skipped_tables: list[str] = field(default_factory=list)
    snap: float | None = None  # GIS: the snapping tolerance (m) the topology was read with


@dataclass
class PipeLoadReport(LoadReport):
    qa: dict[str, Any] = field(default_factory=dict)
    topology: dict[str, Any] = field(default_factory=dict)
    appurtenances: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        lines = [super().text()]
        if self.qa:
            lines.append(f"  QA         {self.qa.get('errors', 0)} errors, "
                         f"{self.qa.get('warnings', 0)} warnings")
            for rule, n in (self.qa.get("by_rule") or {}).items():
                lines.append(f"    {rule:<24} {n}")
        t = self.topology
        if t:
            lines.append(f"  topology   {t['segments']} segments, {t['nodes']} nodes, "
                         f"{t['connected_components']} connected components (largest "
                         f"{t['largest_component_segments']} segments), {t['dangling_ends']} "
                         f"dangling ends, {t['isolated_points']} points on no segment")
        a = self.appurtenances
        if a:
            lines.append(f"  attached   {a['attached_by_id']} by pipe id, {a['attached_nearest']} "
                         f"to the nearest segment, {a['unattached']} unattached")
        return "\n".join(lines)
