"""Mapping source field names to layer attributes: the one matcher of delivered field names
and table headers, the units their headers name, mapping files.

Surveyors name the same attribute many ways (建筑高度, 高度, HEIGHT …); the aliases are data in
``cim/dictionaries/field_aliases.yaml`` (units in ``field_units.yaml``) and a per-delivery
mapping file may override them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cim.errors import ConfigError, InputError
from cim.profile import read_yaml_mapping
from cim.text import header_unit, norm_key, norm_name

_norm = norm_name  # field names compare as column headers do (cim/text.py)
_BRACKET_CHARS = re.compile(r"[()\[\]【】]")


def match_fields(fields: list[str], aliases: dict[str, list[str]],
                 override: dict[str, str] | None = None, *, strict: bool = True,
                 exclusive: bool = False, where: str | None = None) -> dict[str, str]:
    """{attribute: source field} for the attributes found among ``fields`` — the one matcher
    of delivered field names and table headers.

    A field's name matches an alias as written first (its brackets' words kept: 容积率(上限)
    is 容积率上限, an alias of the upper bound), then without its trailing brackets
    (起点埋深(m), X(北坐标) → 起点埋深, X). Two fields that only the second way match one alias
    are refused as ambiguous: 容积率(上限) and 容积率(下限) both read as 容积率 — taking the
    last one silently stored the lower bound as the upper. A header whose brackets name a unit
    other than its attribute's (``aliases.units``, ``field_units.yaml``) is refused: 起点埋深(cm)
    is no depth in metres. An override (a mapping file) wins over the aliases; a value of
    ``None`` drops the attribute; with ``strict`` an override naming no field is an error.
    With ``exclusive`` a field serves one attribute at most (a survey table's headers); else
    one field may serve several (a parcel's 地块编码 is its key and its code). Errors name
    ``where`` (the file or table)."""
    full: dict[str, list[str]] = {}
    bare: dict[str, list[str]] = {}
    for f in fields:
        full.setdefault(_norm_full(f), []).append(f)
        bare.setdefault(_norm(f), []).append(f)
    out: dict[str, str] = {}
    taken: set[str] = set()
    # as written; then bare, a field whose header names another unit than the attribute's
    # left for last (建筑限高(米) is the height beside 限高(层)); then bare, any
    for by, norm, any_unit in ((full, _norm_full, True), (bare, _norm, False),
                               (bare, _norm, True)):
        for attr, names in aliases.items():
            if attr in out or attr in (override or {}):  # the mapping file decides it
                continue
            for n in names:
                hits = [f for f in by.get(norm(n), []) if not (exclusive and f in taken)
                        and (any_unit or not _other_unit(f, attr, aliases))]
                if len(hits) > 1 and by is bare:
                    hits = _in_unit(hits, attr, aliases)  # 限高(m) beside 限高(层)
                if len(hits) > 1 and by is bare:
                    raise InputError(
                        f"fields {' and '.join(map(repr, hits))} both read as {n!r} "
                        f"({attr}): name the one to use in a mapping file (--mapping)",
                        path=where)
                if hits:
                    out[attr] = hits[0]
                    taken.add(hits[0])
                    break
    _match_cut_names(fields, aliases, out, taken, override)
    for attr, src in (override or {}).items():
        if src in ("", "None", "null", "~"):  # the mapping says: do not use this attribute
            out.pop(attr, None)
            continue
        hit = src if src in fields else next(iter(bare.get(_norm(src), [])), None)
        if hit is None:
            if strict:
                raise ConfigError(f"the mapping names field {src!r} for {attr!r}, which is not "
                                  f"in the source (fields: {', '.join(map(str, fields))})",
                                  path=where)
            continue
        for a, h in list(out.items()):
            if h == hit and a != attr:
                del out[a]
        out[attr] = hit
    # a field the mapping file names is taken as it is (建筑高度(H): H is no hours)
    _check_units({a: f for a, f in out.items() if a not in (override or {})}, aliases, where)
    return out


def _match_cut_names(fields: list[str], aliases: dict[str, list[str]], out: dict[str, str],
                     taken: set[str], override: dict[str, str] | None) -> None:
    """A GBK Shapefile's field name cut at its 10 bytes — five characters: 主管部门代码 is
    written 主管部门代, 权属单位名称 权属单位名 — is the alias it begins, when it begins one
    attribute's aliases only. (A UTF-8 name is cut to three characters, too short to tell:
    最大建 could be 最大建筑高度 or 最大建筑密度; the reader notes those cut names.)"""
    for f in fields:
        if f in taken or f in out.values() or f.isascii() or len(f) < 5 \
                or len(f.encode("gb18030", "replace")) != 10:
            continue
        cut = _norm(f)
        attrs = {a for a, names in aliases.items()
                 for n in names if _norm(n).startswith(cut) and _norm(n) != cut}
        attr = attrs.pop() if len(attrs) == 1 else None
        if attr is not None and attr not in out and attr not in (override or {}):
            out[attr] = f
            taken.add(f)


def map_fields(source_fields: list[str], aliases: dict[str, list[str]],
               override: dict[str, str] | None = None, where: str | None = None
               ) -> dict[str, str]:
    """{attribute: source field} for every attribute found in the source
    (:func:`match_fields`, an override naming no field an error)."""
    return match_fields(source_fields, aliases, override, strict=True, where=where)


def _unit_of(aliases: Any, attr: str) -> tuple[str | None, dict[str, str]]:
    """(the unit ``attr`` is read in, the spellings its headers are read with)."""
    want = getattr(aliases, "units", {}).get(attr)
    if want is None or not hasattr(aliases, "spellings_for"):
        return None, {}
    return want, aliases.spellings_for(attr)


def _other_unit(f: str, attr: str, aliases: Any) -> bool:
    """Whether field ``f``'s header names another unit than attribute ``attr``'s."""
    want, spellings = _unit_of(aliases, attr)
    got = header_unit(f, spellings) if want else None
    return got is not None and got != want


def _in_unit(hits: list[str], attr: str, aliases: Any) -> list[str]:
    """Those of ``hits`` whose header names the attribute's unit, if that tells one."""
    want, spellings = _unit_of(aliases, attr)
    if want is None:
        return hits
    same = [f for f in hits if header_unit(f, spellings) == want]
    return same if len(same) == 1 else hits


def _check_units(mapped: dict[str, str], aliases: Any, where: str | None) -> None:
    for attr, f in mapped.items():
        want, spellings = _unit_of(aliases, attr)
        got = header_unit(f, spellings) if want else None
        if want is not None and got is not None and got != want:
            raise InputError(f"the field is in {got} (its header says so), {attr} is read in "
                             f"{want}: convert the values to {want} and name the header so "
                             "(a mapping file naming this field takes it as it is)",
                             path=where, field=str(f))


def _norm_full(name: Any) -> str:
    """A field name as :func:`cim.text.norm_name` gives it, its brackets' words kept."""
    return _norm(_BRACKET_CHARS.sub("", norm_key(name)))


def all_matches(source_fields: list[str], names: list[str]) -> list[str]:
    """Every source field matching one of ``names``, in the order of ``names``."""
    by_norm = {_norm(f): f for f in source_fields}
    return [by_norm[_norm(n)] for n in names if _norm(n) in by_norm]


def load_mapping_yaml(path: str | Path, shape: str) -> dict[Any, Any]:
    """The top-level mapping of a mapping file; ConfigError naming the file otherwise
    (``shape`` says what the file must map, for the message)."""
    return read_yaml_mapping(path, "mapping file", shape)


def read_mapping_file(path: str | Path) -> dict[str, str]:
    data = load_mapping_yaml(path, "attribute: source field")
    return {str(k): str(v) for k, v in data.items()}
