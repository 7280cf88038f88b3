"""What the web map's feature info shows for a stored value: its words (an alarm's 告警中 for
``active``, every layer's flags), and a number's decimals by its column's unit. Read by the
style's builder (its metadata ``cim:info``) and by the health report, from
``value_labels.yaml`` (a city's copy named in its profile, else the platform's)."""

from __future__ import annotations

import re
from pathlib import Path

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR, CityProfile, read_yaml_mapping

_UNIT = re.compile(r"\(([^()]+)\)\s*$")  # 长度 horizontal length (m): m


def info_formats(profile: CityProfile, path: Path | None = None) -> dict[str, dict]:
    """How the web map's feature info shows a value: ``values`` {layer: {column: {code: 中文}}}
    (value_labels.yaml: the city's copy named in its profile, ``dictionaries: {value_labels:
    …}``, else the platform's; ``path`` another file; a layer named in ``asset_layer`` by its catalog title, a health
    dimension by the health catalog's name), ``flags`` {flag: 中文} the words of every
    layer's ``flags`` under a layer's own (:func:`flag_labels`) and ``decimals`` {layer: {column: n}} by the unit
    closing the column's declared title. The info showed ``active``, ``gap`` and a pipe's
    length with 14 decimals."""
    from cim.layerdefs import BASE_COLUMNS
    from layers.catalog import layer_defs

    path = path or profile.dictionary_path("value_labels", ".yaml")
    raw = read_yaml_mapping(path, "the value labels")
    values: dict[str, dict[str, dict[str, str]]] = {}
    for layer, cols in (raw.get("values") or {}).items():
        for col, labels in (cols or {}).items():
            if not isinstance(labels, dict):
                raise ConfigError(f"{path}: values.{layer}.{col} must map each value to its "
                                  "label")
            values.setdefault(str(layer), {})[str(col)] = {str(k): str(v)
                                                           for k, v in labels.items()}
    try:
        places = {str(u): int(n) for u, n in (raw.get("decimals") or {}).items()}
        own = {(str(t), str(c)): int(n) for t, cols in (raw.get("column_decimals") or {}).items()
               for c, n in (cols or {}).items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: decimals, column_decimals: each unit or column takes a "
                          f"whole number ({exc})") from exc
    flags, prefixes = _flag_words(raw, path)
    defs = layer_defs()
    titles = {d.name: d.title_zh for d in defs.values()}
    # every layer's 标记 (sent once: the page puts a layer's own words over them); a health
    # indicator's no_<layer>
    shared = {**{f"no_{n}": f"无{t}" for n, t in titles.items()},
              **{str(k): str(v) for k, v in flags.items()}}
    decimals: dict[str, dict[str, int]] = {}
    for d in defs.values():
        for c in (*BASE_COLUMNS, *d.columns, *d.other_columns):
            unit = _UNIT.search(c.title)
            n = own.get((d.name, c.name), places.get(unit.group(1)) if unit else None)
            if n is not None:
                decimals.setdefault(d.name, {})[c.name] = n
            if c.name == "asset_layer":
                values.setdefault(d.name, {})[c.name] = {**titles, **values.get(d.name, {})
                                                         .get(c.name, {})}
    if "health_indicators" in defs:
        from layers.health.catalog import load_catalog

        dims = values.setdefault("health_indicators", {}).setdefault("dimension", {})
        # … and as the keys of an index's 详情 (its dimensions' scores): they showed as
        # healthy：0.338930725
        detail = values["health_indicators"].setdefault("detail", {})
        for dim in load_catalog(profile).dimensions:
            dims.setdefault(dim.id, dim.name_zh)
            detail.setdefault(dim.id, dim.name_zh)
    return {"values": values, "decimals": decimals, "flags": shared,
            "flag_prefixes": prefixes}


def _flag_words(raw: dict, path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The file's ``flags`` and ``flag_prefixes`` over the platform's: a city's copy made
    before a flag had its word (or before the section) shows it in the platform's words,
    not as written."""
    platform = DICTIONARY_DIR / "value_labels.yaml"
    base = {} if path.resolve() == platform.resolve() else \
        read_yaml_mapping(platform, "the value labels")
    out = []
    for key in ("flags", "flag_prefixes"):
        own, theirs = raw.get(key) or {}, base.get(key) or {}
        if not isinstance(own, dict):
            raise ConfigError(f"{path}: {key} must map each flag to its label")
        out.append({**{str(k): str(v) for k, v in theirs.items()},
                    **{str(k): str(v) for k, v in own.items()}})
    return out[0], out[1]


def flag_labels(formats: dict, layer: str) -> dict[str, str]:
    """The words of ``layer``'s flags in :func:`info_formats`' ``formats``: the shared ones,
    the layer's own over them (map.js reads them the same way)."""
    return {**formats["flags"], **formats["values"].get(layer, {}).get("flags", {})}
