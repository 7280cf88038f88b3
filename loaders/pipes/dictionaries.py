"""Pipe dictionaries of CJJ 61 (classes, subclasses, feature points, materials, burial, status).

All facts are data in ``cim/dictionaries/pipe_*.csv`` (a city overrides any of them in its
profile); this module only looks values up and composes codes:

- platform class code (2 digits, the class part of the 18-digit feature code of layers 82/83):
  ``0`` + the CJJ 61 class digit, so 01 给水, 02 排水, 03 燃气, 04 热力, 05 电力, 06 通信,
  07 工业, 08 其他 (``pipe_classes.csv``, column ``code``);
- CJJ 61 feature code (8 digits, Appendix F): ``5`` + class digit + subclass (2) + feature type
  (1 segment, 2 point) + point type (1 characteristic 特征, 2 appurtenance 附属物, 0 segment)
  + sequence (2, from ``pipe_features.csv``; 00 for segments and unnamed points).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cim.dictionary_csv import index_rows
from cim.numbers import ValueProblem
from cim.profile import CityProfile
from cim.text import half_width, norm_key
from loaders.fields import is_blank

NAME_SUFFIXES = ("管线点成果表", "管线段成果表", "管线点", "管线段", "成果表", "管线", "管道",
                 "管网", "管")


@dataclass(frozen=True)
class PipeClass:
    code: str  # platform class code 01..08
    name: str
    letters: str
    digit: str
    gravity: bool
    subclass_code: str = "00"
    subclass_name: str | None = None
    subclass_letters: str | None = None
    # the level a survey records the class's elevation and depth at (pipe_classes.csv:
    # drainage at the invert, the others at the top): which of a table's 管顶 and 管底
    # columns a row of the class reads
    elevation_ref: str = "top"

    @property
    def key(self) -> str:
        """Identity of the class in source keys (class letters)."""
        return self.letters

    def label(self) -> str:
        return self.subclass_name or self.name


@dataclass(frozen=True)
class Feature:
    kind: str  # 特征 | 附属物
    seq: str
    name: str
    well: bool


class PipeDictionaries:
    def __init__(self, profile: CityProfile) -> None:
        self.classes = profile.dictionary("pipe_classes")
        self.subclasses = profile.dictionary("pipe_subclasses")
        self._class_by_key: dict[str, PipeClass] = {}
        self.by_code: dict[str, PipeClass] = {}
        for row in self.classes:
            pc = PipeClass(code=row["code"], name=row["name"], letters=row["letters"],
                           digit=row["digit"], gravity=row.get("gravity", "0") == "1",
                           elevation_ref=(row.get("elevation_ref") or "top").strip().lower())
            self.by_code[pc.code] = pc
            for k in [row["code"], row["name"], row.get("name_en", ""), row["letters"],
                      row["digit"]]:
                if k:
                    self._class_by_key.setdefault(norm_key(k), pc)
        # a subclass's own names before the classes' aliases: 煤气 (燃气's subclass 01) and
        # 供电 (电力's 01), also written as aliases of their class, resolved to the class and
        # lost their subclass (feature code 53001000 for 53011000), without a word
        for row in self.subclasses:
            base = self.by_code.get(row["class_code"])
            if base is None:
                continue
            pc = PipeClass(code=base.code, name=base.name, letters=base.letters,
                           digit=base.digit, gravity=base.gravity, subclass_code=row["code"],
                           elevation_ref=base.elevation_ref,
                           subclass_name=row["name"], subclass_letters=row["letters"])
            for k in [row["name"], row.get("name_en", ""), row["letters"],
                      *(row.get("aliases") or "").split("|")]:
                if k:
                    self._class_by_key.setdefault(norm_key(k), pc)
        for row in self.classes:
            for k in (row.get("aliases") or "").split("|"):
                if k:
                    self._class_by_key.setdefault(norm_key(k), self.by_code[row["code"]])
        self._features: dict[tuple[str, str, str], Feature] = {}
        for row in profile.dictionary("pipe_features"):
            f = Feature(kind=row["kind"], seq=row["seq"].zfill(2), name=row["name"],
                        well=row.get("well", "0") == "1")
            for k in [row["name"], *(row.get("aliases") or "").split("|")]:
                if k:
                    self._features.setdefault((row["class"], row["kind"], norm_key(k)), f)
        # 球墨铸铁管, 混凝土管, HDPE管: a material written with 管 (pipe) after it, as most
        # survey tables do, is that material (铸铁管, 钢管 and PE管 were aliases, the rest not:
        # material_code NULL, a pipe's risk scored as of unknown material, without a word)
        self.materials = _Lookup(profile.dictionary("pipe_materials"), suffixes=("管材", "管"))
        self.burial = _Lookup(profile.dictionary("pipe_burial"))
        self.status = _Lookup(profile.dictionary("pipe_status"))

    # -- classes ---------------------------------------------------------------------------
    def find_class(self, value: Any) -> PipeClass | None:
        """A class (with subclass where the value names one) from a code, name or alias."""
        if is_blank(value):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        s = norm_key(value)
        if s.isdigit() and len(s) == 1:
            s = "0" + s
        hit = self._class_by_key.get(s)
        if hit is not None:
            return hit
        for suffix in NAME_SUFFIXES:  # 雨水管线 → 雨水, 给水管 → 给水
            if s.endswith(suffix) and len(s) > len(suffix):
                hit = self._class_by_key.get(s[: -len(suffix)])
                if hit is not None:
                    return hit
        return None

    def class_in_name(self, name: str) -> PipeClass | None:
        """The class a file or sheet name speaks of (给水管线点, 雨水_段, JS_points …)."""
        s = norm_key(name)
        best: tuple[int, PipeClass] | None = None
        for key, pc in self._class_by_key.items():
            if not key or key.isdigit() or len(key) < 2:
                continue
            if key.isascii():
                # letter codes and English names only as whole tokens: js_points, ys-lines
                if not re.search(rf"(^|[^a-z]){re.escape(key)}([^a-z]|$)", s):
                    continue
            elif key not in s:
                continue
            # the longest key wins; a subclass beats its class on a tie
            rank = (len(key) * 2 + (1 if pc.subclass_name else 0))
            if best is None or rank > best[0]:
                best = (rank, pc)
        return best[1] if best else None

    # -- points ----------------------------------------------------------------------------
    def feature(self, pc: PipeClass, kind: str, value: Any) -> Feature | None:
        if is_blank(value):
            return None
        s = norm_key(value)
        for cls in (pc.code, "*"):
            hit = self._features.get((cls, kind, s))
            if hit is not None:
                return hit
        return None

    @staticmethod
    def point_code(pc: PipeClass, feature: Feature | None, kind: str) -> str:
        ptype = "2" if kind == "附属物" else "1"
        seq = feature.seq if feature else "00"
        return f"5{pc.digit}{pc.subclass_code}2{ptype}{seq}"

    @staticmethod
    def segment_code(pc: PipeClass) -> str:
        return f"5{pc.digit}{pc.subclass_code}1000"


class _Lookup:
    """code/name/alias → (code, name), case-insensitive."""

    def __init__(self, rows: list[dict[str, str]], suffixes: tuple[str, ...] = ()) -> None:
        self.suffixes = suffixes  # a value with one of them after it is the value before it
        self.by_key = {k: (row["code"], row["name"])
                       for k, row in index_rows(rows, ("code", "name"), ("aliases",)).items()}

    def find(self, value: Any) -> tuple[str, str] | None:
        if is_blank(value):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        key = norm_key(value)
        hit = self.by_key.get(key)
        if hit is None:
            for suffix in self.suffixes:
                if key.endswith(suffix) and len(key) > len(suffix):
                    hit = self.by_key.get(key[: -len(suffix)])
                    if hit is not None:
                        break
        return hit


_SIZE_SPLIT = re.compile(r"\s*[×xX*＊]\s*")
_SIZE_PREFIX = re.compile(r"^(?:dn|de|d|φ|Φ|ф|Ф|ϕ|⌀|∅|ø|Ø)\s*", re.IGNORECASE)
# a size of thousands written grouped (1,200; DN1,000): one comma after the first digit —
# "1200,800" or "100,150" are two sizes, not a diameter of a kilometre
_THOUSANDS = re.compile(r"(?<![\d,])(\d),(\d{3})(?![\d,])")
# a size's number and the unit written after it (none: millimetres, 管径's unit)
_SIZE_NUMBER = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*"
                          r"(mm|毫米|cm|厘米|m|米)?", re.IGNORECASE)
_UNIT_MM = {"mm": 1.0, "毫米": 1.0, "cm": 10.0, "厘米": 10.0, "m": 1000.0, "米": 1000.0}


def parse_size(value: Any) -> tuple[float | None, float | None, float | None, str | None]:
    """(diameter_mm, width_mm, height_mm, text) of a 管径 value: 300, DN300, Φ300, 1,200,
    400×300 (a section's width × height), Φ219×6 (a steel pipe's outer diameter × its wall:
    a diameter sign before two numbers makes the first the diameter).

    A number may carry its unit (300mm, 0.3m, 30cm, 300毫米, 1.2m×0.8m: in millimetres; they
    were kept as text only, the pipe without a size for the clearances and sections). A value
    that is neither a diameter nor width × height (e.g. 4孔) keeps only its text. A
    diameter, width or height under :data:`MIN_SIZE_MM` is refused: it is the size in metres
    (0.3, 1.2, 0.8×0.6 — a header without its unit), which was stored as 0.3 mm, a pipe a
    thousand times too thin for every clearance and cross-section.
    """
    if is_blank(value):
        return None, None, None, None
    if isinstance(value, (int, float)):
        v = float(value)
        if v <= 0:
            raise ValueProblem(f"size {value!r} is not positive")
        _in_mm(value, (v,))
        return v, None, None, f"{v:g}"
    text = str(value).strip()
    s = _THOUSANDS.sub(r"\1\2", half_width(text))  # "ＤＮ３００", "３００ｍｍ" typed full-width
    bare = _SIZE_PREFIX.sub("", s)
    diameter_sign = bare != s
    found = [_SIZE_NUMBER.fullmatch(part) for part in _SIZE_SPLIT.split(bare)]
    if any(m is None for m in found):  # no size (4孔), or a unit no size is written in
        return None, None, None, text
    units = [(m.group(2) or "").lower() for m in found]
    if units[-1] and not any(units[:-1]):  # 1.2×0.8m, 2.0×1.5米: the unit of them all
        units = [units[-1]] * len(units)
    # a unit written with a number: 0.3m, 300毫米, 1.2m×0.8m (they lost their size)
    nums = [round(float(m.group(1)) * _UNIT_MM[u or "mm"], 6) for m, u in zip(found, units)]
    if any(n > MAX_SIZE_MM for n in nums):
        raise ValueProblem(f"size {text!r}: {max(nums):g} mm is over {MAX_SIZE_MM:g} mm "
                           + ("(20 m): millimetres written with m?" if any(units)
                              else "(20 m): a digit too many?"))
    if any(n <= 0 for n in nums):
        raise ValueProblem(f"size {text!r} is not positive")
    if len(nums) == 1:
        _in_mm(text, nums)
        return nums[0], None, None, text
    if len(nums) == 2:
        if diameter_sign:  # Φ219×6: the diameter and the wall's thickness
            _in_mm(text, nums[:1])
            return nums[0], None, None, text
        _in_mm(text, nums)
        return None, nums[0], nums[1], text
    return None, None, None, text


# the smallest size in millimetres a surveyed pipe or cable has (DN15 service pipes, 10 mm
# cables); below it a 管径 is a size in metres
MIN_SIZE_MM = 5.0
# the largest: a utility tunnel's or a box culvert's section stays under 20 m; above it a size
# is millimetres written with m (300m)
MAX_SIZE_MM = 20_000.0


def _in_mm(value: Any, nums) -> None:
    """Refuse a size holding a value under :data:`MIN_SIZE_MM`, naming that value alone: the
    others of it are millimetres (89×4.5's 89), so writing the whole size ×1000 (89000×4500,
    as the message once said) would have made a 89 m pipe."""
    small = [n for n in nums if n < MIN_SIZE_MM]
    if small:
        said = " and ".join(f"{n:g}" for n in small)
        mm = " and ".join(f"{n * 1000:g}" for n in small)
        one = len(small) == 1
        wall = (", or, if it is a steel pipe's wall, put Φ before the diameter"
                if len(nums) == 2 and one and nums[1] < MIN_SIZE_MM else "")
        raise ValueProblem(f"size {value!r}: {said} {'is' if one else 'are'} under "
                           f"{MIN_SIZE_MM:g} mm, taken as metres written without unit (管径 is "
                           f"in millimetres); write {'it' if one else 'them'} in millimetres "
                           f"({mm}){wall}")


def size_key(diameter: float | None, width: float | None, height: float | None,
             text: str | None) -> str | None:
    """Comparable form of a size (so 300 and DN300 are the same size)."""
    if diameter is not None:
        return f"{diameter:g}"
    if width is not None:
        return f"{width:g}x{height:g}"
    return text
