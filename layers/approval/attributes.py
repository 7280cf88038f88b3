"""A proposed project's features' roles and attributes: field names, DXF labels, numbers, units.

A feature's role is its ``role`` property (site | building | demolish | green, or 用地红线 |
建筑 | 拆除 | 绿地) or else its layer's name by convention (``cim/dictionaries/approval_names.yaml``,
a city's copy in its profile: :func:`names_of`; a DXF layer is the entity's ``Layer``).
Attributes are read by Chinese or English names (the same file's ``fields``). In
a DXF, a building's attributes are a TEXT on the building layer inside its outline,
``key=value`` pairs joined by ``;`` (``名称=1号楼;地上层数=18;地下层数=2;建筑高度=54;用途=住宅``),
by an MTEXT's line breaks or by several texts. A label ``18F`` or ``18层`` is the floors above
ground; ``H=54`` is the height (``H`` an alias). Numbers are read by
:func:`cim.numbers.parse_number`: a height or elevation may end in one metre sign (``54m``,
``54 米``), a floor count in one ``F``/``层``; any other unit — ``54000mm`` too — is an input
problem naming the label, never converted.
A unit in a field's (or label key's) trailing brackets is read as the loaders read it
(``cim/dictionaries/field_units.yaml``, :func:`cim.text.header_unit`): the
attribute's own unit (建筑高度(米), 计容建筑面积(㎡)) changes nothing, one the file's
``conversions`` convert is converted (计容建筑面积(万㎡) 2.5 is 25,000 m², 建筑高度(mm) 85000 is
85 m; the value is then a bare number), any other (建筑高度(层), 计容建筑面积(m)) or brackets
that look like a unit the file does not spell (计容建筑面积(万), 建筑高度(dm)) is an input
problem naming the field — never a value read as if in the attribute's unit; brackets naming
no unit are a qualifier (地面高程(黄海), 建筑高度(规划)) and change nothing, as in the loaders.
Two labels of one building that disagree (``地上层数=2`` and ``地上层数=30``), or two fields of
one feature giving one number (层数 20 and 地上层数 18), are an input problem naming both (the
same value twice is fine); a label inside a building that is none of these (a block ATTRIB's
bare ``18``, an unknown key) is named in the project's notes as not understood.

Problems are collected (:class:`Problems`), never raised one at a time: the user fixes a file
once, not once per problem.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from cim.errors import ConfigError, InputError
from cim.numbers import ValueProblem, parse_number
from cim.profile import DICTIONARY_DIR, read_yaml_mapping
from cim.text import norm_name
from layers.approval.units import Units

ROLES = ("site", "building", "demolish", "green")
# the attributes the check reads (their names: approval_names.yaml's fields)
ATTRIBUTES = ("role", "name", "floors_above", "floors_below", "height", "use", "counted_area",
              "ground_elevation", "code")
NAMES_FILE = "approval_names"
# the fields GDAL gives every DXF entity: the drawing's own, no attribute of a feature
DXF_FIELDS = frozenset({"Layer", "PaperSpace", "SubClasses", "Linetype", "EntityHandle",
                        "Text", "RawCodeValues"})


@dataclass(frozen=True)
class Names:
    """The layer names of each role and the field names of each attribute, normalized
    (:func:`cim.text.norm_name`) → role / attribute."""

    role_of: dict[str, str]
    field_of: dict[str, str]


def names_of(profile: Any = None) -> Names:
    """The names of the city's copy of approval_names.yaml (its profile's ``dictionaries``),
    a role or attribute it leaves out by the platform's; the platform's file without one."""
    path = profile.dictionary_path(NAMES_FILE, ".yaml") if profile is not None \
        else DICTIONARY_DIR / f"{NAMES_FILE}.yaml"
    return _names(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=8)
def _names(path: str, _mtime: int) -> Names:
    platform = DICTIONARY_DIR / f"{NAMES_FILE}.yaml"
    own = _read_names(Path(path))
    if Path(path).resolve() != platform.resolve():
        base = _read_names(platform)
        own = {k: {**base[k], **own[k]} for k in base}
    return Names({norm_name(n): r for r, names in own["roles"].items() for n in names},
                 {norm_name(n): f for f, names in own["fields"].items() for n in names})


def _read_names(path: Path) -> dict[str, dict[str, list[str]]]:
    raw = read_yaml_mapping(path, "the approval check's layer and field names")
    out: dict[str, dict[str, list[str]]] = {}
    for part, known in (("roles", ROLES), ("fields", ATTRIBUTES)):
        got = raw.get(part) or {}
        if not isinstance(got, dict):
            raise ConfigError(f"{path}: {part} must map each of {', '.join(known)} to its names")
        for key, names in got.items():
            if key not in known:
                raise ConfigError(f"{path}: {part}.{key} is none of {', '.join(known)}")
            if not isinstance(names, list) or not all(isinstance(n, (str, int)) for n in names):
                raise ConfigError(f"{path}: {part}.{key} must be a list of names")
        out[part] = {str(k): [str(n) for n in v] for k, v in got.items()}
    return out


class Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, msg: str, layer: str | None = None, row: int | None = None,
            field: str | None = None) -> None:
        where = [self.source]
        if layer is not None:
            where.append(f"layer {layer!r}")
        if row is not None:
            where.append(f"feature {row}")
        if field is not None:
            where.append(f"field {field!r}")
        self.items.append(f"{', '.join(where)}: {msg}")

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            head = self.items[0] if n == 1 else f"{n} problems in the project:\n  " + \
                "\n  ".join(self.items)
            raise InputError(head)


def attrs_of(props: dict[str, Any], also: list[tuple[str, str, Any]] | None = None,
             names: Names | None = None) -> tuple[dict[str, tuple[str, Any]], str | None]:
    """Known attributes (canonical → (delivered name, value): the first field of the
    attribute's names given) and a DXF TEXT's content; the other fields giving an attribute
    already given are added to ``also`` as (attribute, name, value)."""
    field_of = (names or names_of()).field_of
    out: dict[str, tuple[str, Any]] = {}
    for k, v in props.items():
        f = field_of.get(norm_name(k))
        if f and v is not None and not (isinstance(v, float) and math.isnan(v)):
            if not (isinstance(v, str) and not v.strip()):
                if f not in out:
                    out[f] = (str(k), v)
                elif also is not None:
                    also.append((f, str(k), v))
    text = props.get("Text")
    return out, text if isinstance(text, str) and text.strip() else None


_LABEL_SPLIT = re.compile(r"[;；\r\n]|\\P")  # an MTEXT's \\P reaches us as a newline from GDAL
_FLOORS_LABEL = re.compile(r"\s*[0-9０-９]+\s*(?:[Ff]|层)\s*")  # 18F, 18层: floors above ground
_FLOOR_SIGN = re.compile(r"(.*?)\s*(?:[Ff]|层)")  # one floor sign after a count


def text_attrs(text: str, names: Names | None = None
               ) -> tuple[list[tuple[str, str, str]], list[str]]:
    """A label's attributes as (field, delivered key, value) in order — a key given twice is
    there twice — and the parts that are not understood (see the module doc)."""
    out: list[tuple[str, str, str]] = []
    unread: list[str] = []
    for part in _LABEL_SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        if "=" in part or "＝" in part:
            k, _, v = part.replace("＝", "=").partition("=")
            f = (names or names_of()).field_of.get(norm_name(k))
            if f and v.strip():
                out.append((f, k.strip(), v.strip()))
                continue
        elif _FLOORS_LABEL.fullmatch(part):
            out.append(("floors_above", part, part))
            continue
        unread.append(part)
    return out, unread


def _num(value: Any, name: str, rec: dict, probs: Problems, integer: bool = False,
         positive: bool = False, metres: bool = False) -> float | None:
    """``value`` as a number (None and the problem recorded): a text is read by
    :func:`parse_number` — a metre sign allowed where ``metres``, one floor sign (F, 层) on a
    whole number, any other unit (``mm``) refused."""
    kind = "a whole number >= 0" if integer else "a number > 0" if positive else \
        "a number >= 0"
    try:
        if isinstance(value, bool):
            raise ValueProblem(f"{value!r} is not {kind}")
        if isinstance(value, str):
            s = value
            if integer and (m := _FLOOR_SIGN.fullmatch(value.strip())) is not None:
                s = m.group(1)
            v = parse_number(s, metres=metres)
        else:
            v = float(value)
        if not math.isfinite(v) or v < 0 or (positive and v <= 0) or \
                (integer and v != int(v)):
            raise ValueProblem(f"{value!r} is not {kind}")
    except (TypeError, ValueError):
        unit = " ending in at most one m or 米" if metres else \
            " ending in at most one F or 层" if integer else ""
        why = f"{value!r} is not {kind}{unit}"
        if isinstance(value, str) and any(u in value for u in ("mm", "cm", "毫米", "厘米")):
            why += " (a length is read in metres; mm or cm is not converted)"
        probs.add(why, rec["layer"], rec["row"], name)
        return None
    return int(v) if integer else v



def no_role(roleless: dict[str, list[int]], probs: Problems) -> None:
    """One problem a layer for its features of no role, naming how many and the first rows:
    still refused (a building on a misnamed layer left out would pass the FAR), but a CAD
    plan's frame and thousand dimension lines are not a thousand lines of one message."""
    why = ("no role: give a 'role' property (site, building, demolish, green) or put the "
           "feature on a layer named 用地红线/site, 建筑/building, 拆除/demolish or 绿地/green")
    for layer, rows in roleless.items():
        if len(rows) == 1:
            probs.add(why, layer, rows[0])
            continue
        shown = ", ".join(map(str, rows[:5])) + (f", … {rows[-1]}" if len(rows) > 5 else "")
        them = why.replace("the feature", "them")
        probs.add(f"{len(rows)} features (features {shown}) have {them} (or remove the layer "
                  "from the drawing)", layer)


def note_unread_fields(rec: dict, out: dict[str, dict[str, None]],
                       names: Names | None = None) -> None:
    """Add the fields of ``rec`` holding a value that no attribute reads (建筑层数, a name a
    Shapefile cut short) to ``out`` by layer: a value the check leaves aside is said, never
    dropped silently (a given 计容建筑面积 ignored made the FAR floors × footprint)."""
    props = rec["properties"]
    dxf = "EntityHandle" in props and "SubClasses" in props
    for k, v in props.items():
        if dxf and k in DXF_FIELDS or (names or names_of()).field_of.get(norm_name(k)) \
                is not None:
            continue
        if v is None or (isinstance(v, float) and math.isnan(v)) or \
                (isinstance(v, str) and not v.strip()):
            continue
        out.setdefault(str(rec["layer"]), {})[str(k)] = None



NUMERIC = {"floors_above": {"integer": True}, "floors_below": {"integer": True},
            "height": {"positive": True, "metres": True}, "counted_area": {},
            "ground_elevation": {"metres": True}}


def read_value(f: str, name: str, value: Any, rec: dict, probs: Problems, units: Units
          ) -> Any:
    """Field ``name``'s ``value`` as attribute ``f`` in its unit (None and the problem
    recorded): its header's unit converted (:meth:`Units.factor`), then read by :func:`_num`
    (a ground elevation may be below 0)."""
    factor, why = units.factor(f, name)
    if factor is None:
        probs.add(why, rec["layer"], rec["row"], name)
        return None
    if f == "ground_elevation":  # may be below 0
        try:
            v = parse_number(value, metres=factor == 1.0) if isinstance(value, str) \
                else float(value)
            if isinstance(value, bool) or not math.isfinite(v):
                raise ValueError
        except (TypeError, ValueError):
            probs.add(f"{value!r} is not a number", rec["layer"], rec["row"], name)
            return None
    else:
        kw = dict(NUMERIC[f])
        if factor != 1.0:  # the header gives the unit: a bare number
            kw["metres"] = False
        v = _num(value, name, rec, probs, **kw)
    if v is None or factor == 1.0:
        return v
    return float(Decimal(repr(float(v))) * Decimal(repr(factor)))  # 85000 mm: 85.0, not 85.00…1


def comparable(f: str, k: str, value: Any, units: Units) -> Any:
    """What two labels' values are compared by: the number in the attribute's unit (None:
    not a number, reported when the building is read), else the stripped text."""
    if f not in NUMERIC:
        return str(value).strip()
    return read_value(f, k, value, {"layer": None, "row": None}, Problems(""), units)


def merge_labels(building: tuple, found: list[tuple[str, str, str, dict, str]],
                  probs: Problems, units: Units) -> None:
    """Add the labels' values to a building's attributes; two values of one field that
    disagree (among the labels, or with the outline's own attribute) are a problem naming
    both, the same value given twice is fine."""
    _, attrs, brec = building
    first: dict[str, tuple[Any, str]] = {}  # field → (comparable value, where it was given)
    for f, (k, v) in attrs.items():
        first[f] = (comparable(f, k, v, units), f"the outline's {k}={v}")
    for f, k, v, rec, text in found:
        where = f"the text {text!r} (layer {rec['layer']!r}, feature {rec['row']})"
        if f not in first:
            first[f] = (comparable(f, k, v, units), where)
            attrs[f] = (k, v)
            continue
        known, known_where = first[f]
        now = comparable(f, k, v, units)
        if known is not None and now is not None and known != now:
            probs.add(f"its labels disagree on {f}: {known_where} and {where} "
                      "(give one value)", brec["layer"], brec["row"], k)


def label_of(attrs: dict, rec: dict) -> str:
    return str(attrs["name"][1]) if "name" in attrs else f"{rec['layer']} #{rec['row']}"

