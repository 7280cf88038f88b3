"""Survey quality checks of pipe deliveries (管线普查成果质量检查).

The rules, their severities, thresholds and messages (Chinese and English) are data:
``cim/dictionaries/pipe_qa_rules.yaml`` (a city may name its own copy in the profile), read
by :mod:`loaders.pipes.qa_rules`. This module runs them over the parsed point and segment
records of a delivery and returns findings (:class:`loaders.pipes.qa_report.QAResult`);
:mod:`loaders.pipes.load` rejects the rows of error findings (reason = rule id) and loads
the rows of warnings with the rule id in their flags.

Every finding names its rule, severity, table (file[:sheet]), row (as a person finds it in
the file), the point numbers or segment ends concerned, and a message in both languages.
"""

from __future__ import annotations

import math
from collections import defaultdict

from cim.numbers import height_difference
from loaders.pipes.dictionaries import size_key
from loaders.pipes.gis_checks import absent_nodes, line_ends, point_z, too_short
from loaders.pipes.heights import above_ground, aerial_burials
from loaders.pipes.qa_report import QAResult
from loaders.pipes.qa_rules import Finding, Rules
from loaders.pipes.records import PointRec, SegRec, column_name
from loaders.pipes.rejects import end_field, ends_field


def run_checks(points: list[PointRec], segments: list[SegRec], rules: Rules, *,
               survey: bool = True, tables: list[str] | None = None,
               columns: dict[str, dict[str, str]] | None = None,
               snap: float | None = None) -> QAResult:
    """All checks over a delivery. ``survey`` False = a GIS network layer: the survey-only
    checks (heights, segment length limits, slopes) do not apply, and duplicate segments are
    the same node pair with the same geometry (parallel pipes between two nodes are real).
    ``columns``: the delivered column of each table's attributes (:attr:`Delivery.columns`),
    which a finding names as its field; ``snap``: a GIS delivery's snapping tolerance."""
    out: list[Finding] = []
    columns = columns or {}
    R = rules
    tol_el = R.tolerances.get("elevation", 0.05)
    tol_pt = R.tolerances.get("point_height", 0.05)
    tol_rev = R.tolerances.get("reverse_slope", 0.01)

    def add(rule: str, layer: str, rec, target: int, ids: list[str], fieldname=None, **kw):
        if R.enabled(rule):
            out.append(R.finding(rule, layer, rec, target, ids, fieldname, **kw))

    # values that cannot be parsed or are missing
    for i, p in enumerate(points):
        for rule, fname, value, problem in p.problems:
            add(rule, "points", p, i, [p.label], fname, value=value, problem=problem)
    for i, s in enumerate(segments):
        for rule, fname, value, problem in s.problems:
            add(rule, "segments", s, i, s.ids, fname, value=value, problem=problem)

    # duplicate point numbers: the first row keeps the number
    # each record's keys once (the checks below look them up several times a record)
    pkeys = [p.key for p in points]
    skeys = [(s.key("start"), s.key("end")) for s in segments]
    first: dict[tuple[str, str], int] = {}
    rows_of: dict[tuple[str, str], list[PointRec]] = defaultdict(list)
    subclasses_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for p, k in zip(points, pkeys):
        if p.point_no:
            rows_of[k].append(p)
            if p.cls is not None:
                subclasses_of[k].add(p.cls.subclass_code)
    for i, (p, k) in enumerate(zip(points, pkeys)):
        if not p.point_no:
            continue
        if k in first:
            add("duplicate_point", "points", p, i, [p.point_no],
                column_name(columns, p, "point_no"), point=p.point_no, rows=_rows(rows_of[k]))
        else:
            first[k] = i
    node_of = {k: i for k, i in first.items() if points[i].role == "node"}
    good_point = {k: i for k, i in node_of.items() if not points[i].problems}

    seg_error: set[int] = set()
    seen_pair: dict[tuple, int] = {}
    used: set[tuple[str, str]] = set()
    for i, (s, (a, b)) in enumerate(zip(segments, skeys)):
        for k in (a, b):
            if k[1]:
                used.add(k)
        if s.problems:
            seg_error.add(i)
            continue
        for which, zh, k in (("start", "起", a), ("end", "终", b)):
            if k not in node_of:
                add("missing_point", "segments", s, i, s.ids,
                    end_field(s, which, columns), segment=s.label, end=zh, end_en=which,
                    point=k[1])
                seg_error.add(i)
        if i in seg_error:
            continue
        # 雨水 and 污水 share their class's letters (PS): a point number used in both joins a
        # 污水 segment to the 雨水 point (the first of the number) — two networks crossed. Only
        # where its own subclass has a point of that number (a 雨水 pipe into a 合流 manhole,
        # a 消防 branch off a 配水 main are real joints)
        for which, zh, k in (("start", "起", a), ("end", "终", b)):
            pc = points[node_of[k]].cls
            if _other_subclass(s.cls, pc) and s.cls.subclass_code in subclasses_of[k]:
                add("point_of_other_subclass", "segments", s, i, s.ids,
                    end_field(s, which, columns), segment=s.label, end=zh, end_en=which,
                    point=k[1], other=pc.label(), other_en=pc.label(), mine=s.cls.label(),
                    mine_en=s.cls.label())
                seg_error.add(i)
        if i in seg_error:
            continue
        if s.start_no == s.end_no:
            if survey or not too_short(s, i, R, add, columns):
                add("self_loop", "segments", s, i, s.ids, ends_field(s, columns),
                    segment=s.label)
            seg_error.add(i)
            continue
        if not survey and (absent_nodes(s, i, R, add, columns)
                           | line_ends(s, i, snap, R, add, columns)):
            seg_error.add(i)
            continue
        geo = _line_key(s.line) if not survey else None
        pair = (a, b, geo)
        if pair in seen_pair:
            j = seen_pair[pair]
            add("duplicate_segment", "segments", s, i, s.ids, ends_field(s, columns),
                segment=s.label, rows=_rows([segments[j], s]))
            seg_error.add(i)
            continue
        rev = (b, a, _line_key(_reverse(s.line)) if not survey else None)
        if rev in seen_pair:
            j = seen_pair[rev]
            add("reversed_segment", "segments", s, i, s.ids, ends_field(s, columns),
                segment=s.label, rows=_rows([segments[j]], s))
            seg_error.add(i)
            continue
        seen_pair[pair] = i

    # heights, lengths and slopes (the limits read once)
    max_depth = R.get("depth_over_max", "max_depth")
    min_len = R.get("length_under_min", "min_length")
    max_len = R.get("length_over_max", "max_length")
    max_slope = R.get("steep_slope", "max_slope")
    aerial = aerial_burials(R) if R.enabled("above_ground") else None
    for i, (s, (a, b)) in enumerate(zip(segments, skeys)):
        if i in seg_error:
            continue
        ps = points[good_point[a]] if a in good_point else None
        pe = points[good_point[b]] if b in good_point else None
        if ps is None or pe is None:
            continue  # an end point is rejected: the segment goes with it (end_point_rejected)
        if not survey:
            s.length = float(s.line.length) if s.line is not None else None
            if s.length is not None and s.length < R.get("length_under_min", "min_length", 0):
                add("length_under_min", "segments", s, i, s.ids, "geometry", segment=s.label,
                    value=s.length, limit=R.get("length_under_min", "min_length"))
                seg_error.add(i)
                continue
            # a GIS network's depths and pipe elevations against its nodes' 地面高程: told,
            # not rejected (a GIS layer's heights are often maintained apart from its nodes)
            for which, zh, p in (("start", "起", ps), ("end", "终", pe)):
                d = s.start_depth if which == "start" else s.end_depth
                el = s.start_elevation if which == "start" else s.end_elevation
                if d is not None and el is not None and p.ground is not None and \
                        abs(p.ground - d - el) > tol_el + 1e-9:
                    add("heights_disagree", "segments", s, i, s.ids,
                        column_name(columns, s, f"{which}_depth", f"{which}_elevation"),
                        segment=s.label, end=zh,
                        end_en=which, point=p.point_no, ground=p.ground, depth=d,
                        elevation=el, value=abs(p.ground - d - el), limit=tol_el)
            if aerial is not None:
                above_ground(s, i, [("start", ps), ("end", pe)], tol_el, aerial, add, columns)
            continue
        height_error = False
        for which, zh, p in (("start", "起", ps), ("end", "终", pe)):
            d = s.start_depth if which == "start" else s.end_depth
            el = s.start_elevation if which == "start" else s.end_elevation
            z = None
            if d is not None and el is not None and p.ground is not None:
                off = p.ground - d - el
                if abs(off) > tol_el + 1e-9:
                    add("elevation_mismatch", "segments", s, i, s.ids,
                        column_name(columns, s, f"{which}_depth", f"{which}_elevation"),
                        segment=s.label,
                        end=zh, end_en=which, point=p.point_no, ground=p.ground, depth=d,
                        elevation=el, value=abs(off), limit=tol_el)
                    height_error = True
                z = el
            elif el is not None:
                z = el
            elif d is not None and p.ground is not None:
                z = height_difference(p.ground, d)
            else:
                add("missing_height", "segments", s, i, s.ids,
                    column_name(columns, s, f"{which}_depth", f"{which}_elevation"),
                    segment=s.label, end=zh,
                    end_en=which)
                height_error = True
            if which == "start":
                s.z_start = z
            else:
                s.z_end = z
        if height_error:
            seg_error.add(i)
            continue
        if aerial is not None:
            above_ground(s, i, [("start", ps), ("end", pe)], tol_el, aerial, add, columns)
        depths = [d for d in (_depth(s.start_depth, ps.ground, s.z_start),
                              _depth(s.end_depth, pe.ground, s.z_end)) if d is not None]
        if depths and max_depth is not None and max(depths) > max_depth + 1e-9:
            add("depth_over_max", "segments", s, i, s.ids, segment=s.label, value=max(depths),
                limit=max_depth)
        s.length = math.hypot(pe.e - ps.e, pe.n - ps.n)
        if min_len is not None and s.length < min_len:
            add("length_under_min", "segments", s, i, s.ids, segment=s.label, value=s.length,
                limit=min_len)
            seg_error.add(i)
            continue
        if max_len is not None and s.length > max_len:
            add("length_over_max", "segments", s, i, s.ids, segment=s.label, value=s.length,
                limit=max_len)
        slope = (s.z_start - s.z_end) / s.length if s.length > 0 else 0.0
        if max_slope is not None and abs(slope) > max_slope + 1e-12:
            add("steep_slope", "segments", s, i, s.ids, segment=s.label, value=round(slope, 4),
                limit=max_slope)
        if s.cls is not None and s.cls.gravity and s.z_end - s.z_start > tol_rev:
            add("reverse_slope", "segments", s, i, s.ids, segment=s.label,
                start_elevation=s.z_start, end_elevation=s.z_end)

    # point checks
    at_point: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    neighbours: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for i, (s, (a, b)) in enumerate(zip(segments, skeys)):
        if a[1] and b[1] and a != b and not s.problems:
            neighbours[a].add(b)
            neighbours[b].add(a)
        if i in seg_error:
            continue
        at_point[a].append((i, "start"))
        at_point[b].append((i, "end"))
    expected = R.get("junction_degree", "expected") or {"三通": 3, "四通": 4}
    for k, i in first.items():
        p = points[i]
        if p.problems:
            continue
        if p.role == "node" and k not in used:
            add("orphan_point", "points", p, i, [p.point_no], point=p.point_no)
        if p.feature_raw and p.appurtenance_raw:
            add("feature_and_appurtenance", "points", p, i, [p.point_no], point=p.point_no,
                feature=p.feature_raw, appurtenance=p.appurtenance_raw)
        for raw, feat, zh, en in ((p.feature_raw, p.feature, "特征", "characteristic"),
                                  (p.appurtenance_raw, p.appurtenance, "附属物",
                                   "appurtenance")):
            if raw and feat is None:
                add("unknown_feature", "points", p, i, [p.point_no], zh, point=p.point_no,
                    value=raw, field_en=en, class_name=p.cls.label() if p.cls else "")
        if p.feature is not None and p.feature.name in expected and p.role == "node":
            n = len(neighbours.get(k, ()))
            if n != int(expected[p.feature.name]):
                add("junction_degree", "points", p, i, [p.point_no], point=p.point_no,
                    feature=p.feature.name, value=n, limit=int(expected[p.feature.name]))
        if not survey:
            point_z(p, i, R, add, columns)
        if survey and p.role == "node":
            _point_consistency(p, i, at_point.get(k, []), len(neighbours.get(k, ())),
                               segments, tol_pt, add)
    out.sort(key=lambda f: (f.table, f.row, f.rule))
    return QAResult(findings=out, points=len(points), segments=len(segments),
                    tables=tables or sorted({p.table for p in points} | {s.table for s in segments}),
                    rules_path=R.path)


def _rows(recs: list, also: PointRec | SegRec | None = None) -> list[int] | list[str]:
    """The rows of ``recs`` as a finding names them: numbers within one table (with ``also``,
    the finding's own record), else each with its table — "rows 5, 2" of a point repeated
    across two point tables sent the surveyor to a row 5 the second table did not have."""
    if len({r.table for r in [*recs, *([also] if also else [])]}) == 1:
        return [r.row for r in recs]
    return [f"{r.table} {r.row}" for r in recs]


def _depth(d: float | None, ground: float | None, z: float | None) -> float | None:
    if d is not None:
        return d
    if ground is not None and z is not None:
        return height_difference(ground, z)
    return None


def _point_consistency(p: PointRec, i: int, ends: list[tuple[int, str]], degree: int,
                       segments: list[SegRec], tol: float, add) -> None:
    """The same point must carry one depth/elevation in all its segments and, where the
    survey passes exactly two segments through it, one material and one size (unless it is
    a 变深 / 变材 / 变径 point, where that value changes by definition). Wells (窨井 …) are
    exempt: pipes enter them at different heights and of different sizes."""
    if len(ends) < 2:
        return
    if (p.appurtenance is not None and p.appurtenance.well) or \
            (p.feature is not None and p.feature.well):
        return
    problems_zh, problems_en, values = [], [], []
    fname = p.feature.name if p.feature else ""
    segs = sorted({segments[j].label for j, _ in ends})
    zs = [segments[j].z_start if w == "start" else segments[j].z_end for j, w in ends]
    zs = [z for z in zs if z is not None]
    if fname != "变深" and zs and max(zs) - min(zs) > tol + 1e-9:
        problems_zh.append("埋深/高程")
        problems_en.append("depth/elevation")
        values.append(f"{min(zs):.3f}–{max(zs):.3f} m")
    if len(ends) == 2 and degree == 2:
        s1, s2 = (segments[j] for j, _ in ends)
        if fname != "变材" and _mat(s1) != _mat(s2):
            problems_zh.append("材质")
            problems_en.append("material")
            values.append(f"{_mat(s1)} / {_mat(s2)}")
        k1 = size_key(s1.diameter, s1.width, s1.height, s1.size_text)
        k2 = size_key(s2.diameter, s2.width, s2.height, s2.size_text)
        if fname != "变径" and k1 != k2:
            problems_zh.append("管径")
            problems_en.append("size")
            values.append(f"{k1} / {k2}")
    if problems_zh:
        add("point_inconsistent", "points", p, i, [p.point_no, *segs], "、".join(problems_zh),
            point=p.point_no, segments=segs, field_en=", ".join(problems_en),
            value="; ".join(values))


def _mat(s: SegRec) -> str | None:
    return s.material[0] if s.material else s.material_raw


def _line_key(line) -> str | None:
    if line is None:
        return None
    import shapely

    return shapely.to_wkt(shapely.set_precision(shapely.force_2d(line), 0.001), rounding_precision=3)


def _reverse(line):
    if line is None:
        return None
    import shapely

    return shapely.reverse(line)


def _other_subclass(mine, other) -> bool:
    """Whether a segment's class and its end point's are subclasses of one class that differ
    (雨水 and 污水 of 排水); a class without subclasses, or one not told, is no conflict."""
    return (mine is not None and other is not None and mine.code == other.code
            and mine.subclass_code != "00" and other.subclass_code != "00"
            and mine.subclass_code != other.subclass_code)
