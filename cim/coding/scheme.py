"""The code scheme: what each digit of a platform code means, decided by the code's length.

| length | kind       | digits                                                        |
|-------:|------------|---------------------------------------------------------------|
|      6 | admin      | GB/T 2260 county-level division                              |
|      9 | street     | county (6) + street/town (3)                                  |
|     12 | community  | county (6) + street (3) + community (3)                       |
|     15 | grid       | county (6) + street (3) + community (3) + grid serial (3)     |
|     16 | component  | county (6) + major (2) + subclass (2) + serial (6), GB/T 30428.2 |
|     18 | feature    | county (6) + layer (2) + class (2) + serial (8)               |

Layer codes (81 buildings, 82 pipe points, 83 pipe segments …) and class dictionaries are data
(``cim/dictionaries/layers.csv``), so a new layer needs no code change here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cim.errors import CodeError
from cim.profile import CityProfile

FEATURE_SERIAL_WIDTH = 8
COMPONENT_SERIAL_WIDTH = 6
KINDS_BY_LENGTH = {6: "admin", 9: "street", 12: "community", 15: "grid", 16: "component",
                   18: "feature"}
#: the digits of a code that spell its district, and those that spell its class, by coding
#: scheme (the table above): what a code kept across reloads is read against
#: (:mod:`cim.coding.kept`)
DISTRICT_DIGITS = slice(0, 6)
CLASS_DIGITS = {"component": slice(6, 10), "feature": slice(8, 10)}


@dataclass
class DecodedCode:
    code: str
    kind: str
    district_code: str
    district_name: str | None = None
    layer: str | None = None
    layer_name: str | None = None
    layer_code: str | None = None
    major_code: str | None = None  # a component's major class (GB/T 30428.2 大类): no layer code
    major_name: str | None = None
    class_code: str | None = None
    class_name: str | None = None
    serial: int | None = None
    street_code: str | None = None
    community_code: str | None = None
    exists: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def spelled(code: str, scheme: str) -> tuple[str, str]:
    """(district, class) as a code of ``scheme`` (component, feature) spells them."""
    return code[DISTRICT_DIGITS], code[CLASS_DIGITS[scheme]]


def feature_prefix(district: str, layer_code: str, class_code: str) -> str:
    return f"{district}{layer_code}{class_code}"


def _layer_rows(profile: CityProfile) -> list[dict[str, str]]:
    return profile.dictionary("layers")


def layer_code_of(profile: CityProfile, layer: str) -> str:
    for row in _layer_rows(profile):
        if row["layer"] == layer:
            return row["layer_code"]
    raise CodeError(f"layer {layer!r} has no layer code in the layers dictionary")


def _class_name(profile: CityProfile, dictionary: str | None, code: str) -> str | None:
    """The name of class ``code`` in ``dictionary``: a row of that code, else — a dictionary
    of finer codes whose class is their major one (case_categories: 0101 … under 01 公用设施)
    — the major class of that code."""
    if not dictionary:
        return None
    rows = profile.dictionary(dictionary)
    for row in rows:
        if row.get("code") == code:
            return row.get("name") or row.get("name_zh")
    for row in rows:
        if row.get("major_code") == code and row.get("major_name"):
            return row["major_name"]
    return None


def decode(code: str, profile: CityProfile) -> DecodedCode:
    """Split a code into its parts and name them from the profile's dictionaries."""
    code = code.strip()
    if not code.isdigit():
        raise CodeError(f"code {code!r} is not all digits")
    kind = KINDS_BY_LENGTH.get(len(code))
    if kind is None:
        raise CodeError(f"code {code!r} has {len(code)} digits; platform codes have "
                        f"{', '.join(str(n) for n in KINDS_BY_LENGTH)}")
    district = code[:6]
    out = DecodedCode(code=code, kind=kind, district_code=district,
                      district_name=profile.district_name(district))
    if kind == "admin":
        out.layer, out.layer_name = "admin_divisions", "行政区划"
    elif kind in ("street", "community", "grid"):
        out.street_code = code[:9]
        if len(code) >= 12:
            out.community_code = code[:12]
        if kind == "grid":
            out.layer, out.layer_name, out.serial = "grid_cells", "单元网格", int(code[12:])
    elif kind == "component":
        out.layer, out.layer_name = "components", "城市部件"
        out.class_code = code[6:10]
        row = next((r for r in profile.dictionary("components")
                    if r.get("code") == out.class_code), None)
        if row is None:
            raise CodeError(f"code {code}: subclass {out.class_code} is not in the components "
                            "dictionary")
        out.class_name = row.get("name")
        # digits 7–8 are the subclass's major class (01 公用设施), not a layer code: the
        # components' layer code is 00 (layers.csv), which no 16-digit code spells
        out.major_code = code[6:8]
        out.major_name = row.get("major_name") or None
        out.serial = int(code[10:])
    else:
        out.layer_code = code[6:8]
        # a feature layer's code: 00 (districts, grid cells, components) makes no 18-digit code
        row = next((r for r in _layer_rows(profile) if r["layer_code"] == out.layer_code
                    and (r.get("scheme") or "feature") == "feature"), None)
        if row is None:
            raise CodeError(f"code {code}: layer code {out.layer_code} is no feature layer's "
                            "(layers.csv)")
        out.layer, out.layer_name = row["layer"], row["name_zh"]
        out.class_code = code[8:10]
        out.class_name = _class_name(profile, row.get("class_dictionary") or None, out.class_code)
        out.serial = int(code[10:])
    if out.serial == 0:
        raise CodeError(f"code {code}: serial 0 is never issued")
    return out
