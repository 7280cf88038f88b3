"""Field values of pipe records, parsed the same way from survey tables and GIS layers.

A survey table and a GIS line layer describe the same segment attributes and pipe classes;
parsing them in one place keeps their problems (bad_value / missing_value, named by the
Chinese column) identical whichever way the delivery came.
"""

from __future__ import annotations

from typing import Any

from cim.errors import ConfigError
from cim.profile import CityProfile
from loaders.common import jsonable
from loaders.fields import ValueProblem, as_float, as_int, as_text, as_year, is_blank
from loaders.pipes.dictionaries import PipeClass, PipeDictionaries, parse_size
from loaders.pipes.records import FIELD_ZH, PointRec, SegRec
from loaders.sources.tables import Mapping, Table


def field_aliases(profile: CityProfile) -> dict[str, dict[str, list[str]]]:
    fa = profile.field_aliases
    return {"points": fa.get("pipe_points", {}), "segments": fa.get("pipe_segments", {})}


def text_id(v: Any) -> str | None:
    if is_blank(v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return as_text(v, 100)


class ClassResolver:
    """One precedence for a row's pipe class: its class column, else ``--class`` or the
    mapping file, else the sheet or file name."""

    def __init__(self, dicts: PipeDictionaries, class_opt: str | None, mapping: Mapping) -> None:
        self.dicts = dicts
        self.given = None
        value = class_opt or mapping.default("lines", "class")
        if value:
            self.given = dicts.find_class(mapping.translate("class", value))
            if self.given is None:
                raise ConfigError(f"unknown pipe class {value!r}; classes are "
                                  + ", ".join(f"{r['name']} ({r['letters']})"
                                              for r in dicts.classes))
        self.mapping = mapping

    def for_table(self, table: Table) -> PipeClass | None:
        if self.given is not None:
            return self.given
        for name in (table.sheet, table.path.stem):
            if name:
                hit = self.dicts.class_in_name(name)
                if hit is not None:
                    return hit
        return None

    def for_row(self, table_class: PipeClass | None, cls_value: Any, sub_value: Any
                ) -> tuple[PipeClass | None, tuple[str, str, Any, str] | None]:
        pc = table_class
        if not is_blank(cls_value):
            pc = self.dicts.find_class(self.mapping.translate("class", cls_value))
            if pc is None:
                return None, ("bad_value", FIELD_ZH["class"], cls_value,
                              "not a pipe class of the dictionary (pipe_classes.csv)")
        if not is_blank(sub_value) and pc is not None:
            sub = self.dicts.find_class(self.mapping.translate("subclass", sub_value))
            if sub is None or sub.code != pc.code or not sub.subclass_name:
                return None, ("bad_value", "管线小类", sub_value,
                              f"not a subclass of {pc.name} (pipe_subclasses.csv)")
            pc = sub
        return pc, None


def parse_value(rec, problems, fname: str, parse, v):
    """A bad value becomes a problem of its record (rejected later with the column named)
    instead of stopping the whole delivery."""
    try:
        return parse(v)
    except ValueProblem as exc:
        problems.append(("bad_value", fname, jsonable(v), str(exc)))
        return None


def resolve_features(p: PointRec, dicts: PipeDictionaries) -> None:
    if p.cls is None:
        return
    p.feature = dicts.feature(p.cls, "特征", p.feature_raw)
    p.appurtenance = dicts.feature(p.cls, "附属物", p.appurtenance_raw)


def segment_values(s: SegRec, v, tclass, resolver, dicts) -> None:
    pr = s.problems
    s.cls, problem = resolver.for_row(tclass, v("class"), v("subclass"))
    if problem:
        pr.append(problem)
    elif s.cls is None:
        pr.append(("missing_value", FIELD_ZH["class"], None, "empty"))
    s.source_id = parse_value(s, pr, "管段编号", text_id, v("source_id"))
    s.start_no = parse_value(s, pr, FIELD_ZH["start_no"], text_id, v("start_no"))
    s.end_no = parse_value(s, pr, FIELD_ZH["end_no"], text_id, v("end_no"))
    for a in ("start_no", "end_no"):
        if getattr(s, a) is None and not any(f == FIELD_ZH[a] for _, f, _, _ in pr):
            pr.append(("missing_value", FIELD_ZH[a], None, "empty"))
    depth = lambda x: as_float(x, 0, 100)  # noqa: E731
    elev = lambda x: as_float(x, -500, 9000)  # noqa: E731
    s.start_depth = parse_value(s, pr, "起点埋深", depth, v("start_depth"))
    s.end_depth = parse_value(s, pr, "终点埋深", depth, v("end_depth"))
    s.start_elevation = parse_value(s, pr, "起点高程", elev, v("start_elevation"))
    s.end_elevation = parse_value(s, pr, "终点高程", elev, v("end_elevation"))
    s.material_raw = parse_value(s, pr, "材质", lambda x: as_text(x, 50), v("material"))
    s.material = dicts.materials.find(s.material_raw)
    s.burial_raw = parse_value(s, pr, "埋设方式", lambda x: as_text(x, 50), v("burial"))
    s.burial = dicts.burial.find(s.burial_raw)
    size = parse_value(s, pr, "管径", parse_size, v("size"))
    if size:
        s.diameter, s.width, s.height, s.size_text = size
    s.pressure = parse_value(s, pr, "压力", lambda x: text_id(x), v("pressure"))
    s.voltage = parse_value(s, pr, "电压", lambda x: text_id(x), v("voltage"))
    s.cable_count = parse_value(s, pr, "电缆条数", lambda x: as_int(x, 0, 100000), v("cable_count"))
    s.owner = parse_value(s, pr, "权属单位", lambda x: as_text(x, 200), v("owner"))
    s.year = parse_value(s, pr, "建设年代", as_year, v("year"))
    s.road = parse_value(s, pr, "道路名称", lambda x: as_text(x, 200), v("road"))
    s.status_raw = parse_value(s, pr, "状态", lambda x: text_id(x), v("status"))
    s.status = dicts.status.find(s.status_raw)
    s.note = parse_value(s, pr, "备注", lambda x: as_text(x, 1000), v("note"))
