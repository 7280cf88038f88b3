"""Field values of pipe records, parsed the same way from survey tables and GIS layers.

A survey table and a GIS line layer describe the same segment attributes and pipe classes;
parsing them in one place keeps their problems (bad_value / missing_value, named by the
Chinese column) identical whichever way the delivery came.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from cim.errors import ConfigError
from cim.numbers import ValueProblem
from cim.profile import CityProfile
from cim.text import id_form
from loaders.column_values import distinct, mapped
from loaders.common import id_forms_objects, jsonable
from loaders.dates import as_year, years
from loaders.excel_notation import (
    as_coordinate,
    coordinates,
    excel_rounded,
    excel_rounded_ids,
    is_excel_rounded_id,
)
from loaders.fields import as_float, as_int, as_text, is_blank, numbers, texts
from loaders.pipes.dictionaries import PipeClass, PipeDictionaries, parse_size
from loaders.pipes.records import FIELD_ZH, PointRec, SegRec
from loaders.sources.tables import Mapping, Table


def field_aliases(profile: CityProfile) -> dict[str, dict[str, list[str]]]:
    fa = profile.field_aliases
    return {"points": fa.get("pipe_points", {}), "segments": fa.get("pipe_segments", {})}


def text_id(v: Any) -> str | None:
    """An id's text (:func:`loaders.fields.as_text`): a whole number stored as a float is its
    integer's (7040.0 is 7040), refused past 2^53, where the float has lost the id's digits
    (a REAL column of 18-digit ids holds every 64th of them only)."""
    return as_text(v, 100)


def id_text(v: Any) -> str | None:
    """A point number or pipe id (:func:`text_id`), refused where it is a long number as
    Excel shows it (1.23457E+17: the digits are lost, two points alike) or a date or time
    Excel made of it (1-2 typed into a General cell is 2 January, 3:15 a quarter past three:
    it loaded as the point "2026-01-02 00:00:00", its segments' ends made alike)."""
    t = _date_free_id(v)
    if t is not None and not t.isascii():  # ＲＬ0001 is the point RL0001 (cim.text.id_form)
        t = id_form(t) or None
    if t is not None and is_excel_rounded_id(t):
        raise ValueProblem(excel_rounded(t))
    return t


def _date_free_id(v: Any) -> str | None:
    if isinstance(v, (datetime.date, datetime.time)):  # a datetime is a date
        raise ValueProblem(f"the id is a date or time ({v}) as Excel turns 1-2 or 3:15 typed "
                           "into a cell; format the column as text in Excel and type the ids "
                           "again")
    return text_id(v)


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
                return None, ("bad_value", SUBCLASS_ZH, sub_value,
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


def _depth(x: Any) -> float | None:
    return as_float(x, 0, 100)


def _elevation(x: Any) -> float | None:
    return as_float(x, -500, 9000)


def _text50(x: Any) -> str | None:
    return as_text(x, 50)


def _text200(x: Any) -> str | None:
    return as_text(x, 200)


def _text1000(x: Any) -> str | None:
    return as_text(x, 1000)


def _count(x: Any) -> int | None:
    return as_int(x, 0, 100000)


# (source attribute, record attribute, column named in problems, parser) of a segment, in the
# order its problems are listed; the ends' ids come first (a missing one is named after them)
SUBCLASS_ZH = "管线小类"  # the subclass column named in problems
SEGMENT_IDS = (("source_id", "source_id", "管段编号", id_text),
               ("start_no", "start_no", FIELD_ZH["start_no"], id_text),
               ("end_no", "end_no", FIELD_ZH["end_no"], id_text))
SEGMENT_VALUES = (("start_depth", "start_depth", "起点埋深", _depth),
                  ("end_depth", "end_depth", "终点埋深", _depth),
                  ("start_elevation", "start_elevation", "起点高程", _elevation),
                  ("end_elevation", "end_elevation", "终点高程", _elevation),
                  ("material", "material_raw", "材质", _text50),
                  ("burial", "burial_raw", "埋设方式", _text50),
                  ("size", None, "管径", parse_size),  # → diameter, width, height, size_text
                  ("pressure", "pressure", "压力", text_id),
                  ("voltage", "voltage", "电压", text_id),
                  ("cable_count", "cable_count", "电缆条数", _count),
                  ("owner", "owner", "权属单位", _text200),
                  ("year", "year", "建设年代", as_year),
                  ("road", "road", "道路名称", _text200),
                  ("status", "status_raw", "状态", text_id),
                  ("note", "note", "备注", _text1000))
# (source attribute, record attribute, column named in problems, parser) of a survey point
POINT_VALUES = (("point_no", "point_no", FIELD_ZH["point_no"], id_text),
                ("map_no", "map_no", "图上点号", text_id),
                ("x", "x", "X", as_coordinate),
                ("y", "y", "Y", as_coordinate),
                ("ground_elevation", "ground", "地面高程", _elevation),
                ("feature", "feature_raw", "特征", _text50),
                ("appurtenance", "appurtenance_raw", "附属物", _text50),
                ("survey_code", "survey_code", "点编码", text_id),
                ("road", "road", "道路名称", _text200),
                ("note", "note", "备注", _text1000))

# the name a problem is raised under (the standard's: loaders.pipes.records.FIELD_ZH, the
# specs above, a GIS point's own) → the source attribute it belongs to
_PROBLEM_ATTR: dict[str, str] = {
    **{name: attr for attr, name in FIELD_ZH.items()},
    **{fname: src for spec in (SEGMENT_IDS, SEGMENT_VALUES, POINT_VALUES)
       for src, _attr, fname, _parse in spec},
    SUBCLASS_ZH: "subclass", "点号": "point_no", "所在管段": "segment_id"}


def as_delivered(recs_problems: Iterable[list], columns: dict[str, str]) -> None:
    """Problems named by the table's own columns (``columns``: source attribute → the column
    it was read from) — 点号, X坐标, 起点埋深(m) as the surveyor finds them, not the standard's
    物探点号, X, 起点埋深 — as the writer's rejects and QA's findings name theirs
    (:func:`loaders.pipes.records.column_name`); a field the table has no column for keeps
    the standard's name. In place, each list of ``(rule, field, value, message)``."""
    named = {name: columns[attr] for name, attr in _PROBLEM_ATTR.items()
             if attr in columns and columns[attr] != name}
    if not named:
        return
    for pr in recs_problems:
        if pr:
            pr[:] = [(rule, named.get(f, f), value, msg) for rule, f, value, msg in pr]


# source attribute → the layer column that holds its value as delivered (a text less its
# outer blanks, a number, a size's text; None: the source key holds the id): a loaded row's
# attrs leave these out, as buildings' do (RowAttrs.stored). Not listed, so kept as delivered:
# what a dictionary or parse may turn into another value (class, feature, appurtenance,
# material, burial, status; a year read off a date), what the loader computes where the cell
# is blank (depths and pipe elevations), a survey point's X and Y (the geometry holds them
# transformed when the delivery's CRS is not the storage CRS), and what no column holds (a
# segment's note)
POINT_HELD = {"point_no": "point_no", "map_no": "map_no", "ground_elevation": "ground_elevation",
              "survey_code": "survey_code", "road": "road", "note": "note"}
SEGMENT_HELD = {"source_id": None, "start_no": "start_point_no", "end_no": "end_point_no",
                "size": "size_text", "pressure": "pressure", "voltage": "voltage",
                "cable_count": "cable_count", "owner": "owner", "road": "road"}
POINT_COLUMNED = frozenset(POINT_HELD)
SEGMENT_COLUMNED = frozenset(SEGMENT_HELD)


def set_size(s: SegRec, size) -> None:
    if size:
        s.diameter, s.width, s.height, s.size_text = size


def segment_lookups(s: SegRec, dicts: PipeDictionaries) -> None:
    s.material = dicts.materials.find(s.material_raw)
    s.burial = dicts.burial.find(s.burial_raw)
    s.status = dicts.status.find(s.status_raw)


def segment_values(s: SegRec, v, tclass, resolver, dicts) -> None:
    """Parse one segment's values (``v(attribute)`` gives the raw value) into ``s``."""
    pr = s.problems
    s.cls, problem = resolver.for_row(tclass, v("class"), v("subclass"))
    if problem:
        pr.append(problem)
    elif s.cls is None:
        pr.append(("missing_value", FIELD_ZH["class"], None, "empty"))
    for src, attr, fname, parse in SEGMENT_IDS:
        setattr(s, attr, parse_value(s, pr, fname, parse, v(src)))
    for a in ("start_no", "end_no"):
        if getattr(s, a) is None and not any(f == FIELD_ZH[a] for _, f, _, _ in pr):
            pr.append(("missing_value", FIELD_ZH[a], None, "empty"))
    for src, attr, fname, parse in SEGMENT_VALUES:
        value = parse_value(s, pr, fname, parse, v(src))
        if attr is None:
            set_size(s, value)
        else:
            setattr(s, attr, value)
    segment_lookups(s, dicts)


# -- whole columns (survey tables): the same parsers, applied per column ------------------------
def _ids(col: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    if pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        return texts(col, 100)  # text_id of a text is as_text(v, 100)
    return mapped(col, text_id)


def _id_texts(col: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    if pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        out, problems = texts(col, 100)
    else:  # numbers, or dates Excel made of ids: each distinct value once
        out, problems = mapped(col, _date_free_id)
    out = id_forms_objects(out)  # as id_text: ＲＬ0001 is RL0001
    out[np.equal(out, "")] = None  # an id of invisible characters only
    for i, msg in excel_rounded_ids(out).items():  # in Arrow, not a regex a row
        problems[i] = msg
        out[i] = None
    return out, problems


# column versions of the scalar parsers above (same values and problems); any other parser
# runs once per distinct value
_COLUMN_PARSERS = {
    text_id: _ids,
    id_text: _id_texts,
    as_float: numbers,
    as_coordinate: coordinates,
    _depth: lambda c: numbers(c, 0, 100),
    _elevation: lambda c: numbers(c, -500, 9000),
    _count: lambda c: numbers(c, 0, 100000, integer=True),
    _text50: lambda c: texts(c, 50),
    _text200: lambda c: texts(c, 200),
    _text1000: lambda c: texts(c, 1000),
    as_year: years,
}


def parse_column(col: np.ndarray, parse) -> tuple[np.ndarray, dict[int, str]]:
    """(values, {row index: problem message}) of a column parsed with ``parse``."""
    fn = _COLUMN_PARSERS.get(parse)
    return fn(col) if fn is not None else mapped(col, parse)


def parse_columns(spec, columns: dict[str, np.ndarray], problems: list[list]
                  ) -> dict[str, np.ndarray]:
    """Parse ``columns`` (raw values by source attribute) field by field in ``spec`` order,
    appending each row's bad values to ``problems[row]`` as :func:`parse_value` does."""
    out = {}
    for src, _attr, fname, parse in spec:
        col = columns[src]
        out[src], bad = parse_column(col, parse)
        for i, msg in bad.items():
            problems[i].append(("bad_value", fname, jsonable(col[i]), msg))
    return out


def class_column(resolver: ClassResolver, tclass: PipeClass | None, classes: np.ndarray,
                 subclasses: np.ndarray) -> tuple[list[PipeClass | None], list[Any]]:
    """:meth:`ClassResolver.for_row` of every row, once per distinct (class, subclass)."""
    cc, cu = distinct(classes)
    sc, su = distinct(subclasses)
    width = len(su) + 1
    codes, pairs = pd.factorize((cc.astype(np.int64) + 1) * width + (sc + 1))
    cls_u, prob_u = [], []
    for p in pairs:
        c, s_ = divmod(int(p), width)  # shifted by one: 0 is a missing value
        pc, problem = resolver.for_row(tclass, cu[c - 1] if c else None,
                                       su[s_ - 1] if s_ else None)
        cls_u.append(pc)
        prob_u.append(problem)
    return [cls_u[k] for k in codes], [prob_u[k] for k in codes]
