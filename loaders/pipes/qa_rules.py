"""The pipe QA rule file read and held, and the finding a rule makes of a record.

Which rules are on, their severities, limits, tolerances and messages (Chinese and English) are
a city's configuration (``cim/dictionaries/pipe_qa_rules.yaml``, or the profile's own copy):
reading and validating that file (a configuration error naming it), filling in the defaults
of checks added after a city's copy was made, and formatting a rule's messages are the same
whichever check fires — the survey checks (:mod:`loaders.pipes.qa`), the GIS checks
(:mod:`loaders.pipes.gis_checks`) and the height checks (:mod:`loaders.pipes.heights`)
all report through :meth:`Rules.finding`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cim.errors import ConfigError
from cim.profile import CityProfile, read_yaml_mapping
from loaders.pipes.gis_checks import GIS_RULES
from loaders.pipes.heights import ADDED_RULES
from loaders.pipes.records import PointRec, SegRec

SEVERITIES = ("error", "warning")


@dataclass
class Finding:
    rule: str
    severity: str
    layer: str  # points | segments
    table: str
    row: int
    ids: list[str]
    message_zh: str
    message_en: str
    field: str | None = None
    target: int = -1  # index of the record in its list

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("target")
        return d


class _Fmt(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass
class Rules:
    rules: dict[str, dict[str, Any]]
    tolerances: dict[str, float]
    path: str

    @classmethod
    def load(cls, profile: CityProfile | None = None, path: str | Path | None = None) -> Rules:
        if path is None:
            from cim.profile import DICTIONARY_DIR

            path = (profile.dictionary_path("pipe_qa_rules", ".yaml") if profile
                    else DICTIONARY_DIR / "pipe_qa_rules.yaml")
        # the one reader of the platform's YAML: a city's copy edited into a list, or not
        # YAML, is a configuration error naming the file (a list was an AttributeError)
        data = read_yaml_mapping(path, "the QA rules", "'tolerances' and 'rules'")
        entries = data.get("rules") or []
        if not isinstance(entries, list) or not all(isinstance(r, dict) for r in entries):
            raise ConfigError("'rules' must be a list of rules, each a mapping with an id and "
                              "a severity", path=str(path))
        rules = {}
        for r in entries:
            rid = r.get("id")
            if not rid or r.get("severity") not in SEVERITIES:
                raise ConfigError(f"rule {rid!r} needs an id and a severity of "
                                  f"{' or '.join(SEVERITIES)}", path=str(path))
            rules[rid] = r
        for r in GIS_RULES + ADDED_RULES:  # a file made before a check was added: its default
            rules.setdefault(r["id"], r)
        tolerances = data.get("tolerances") or {}
        if not isinstance(tolerances, dict):
            raise ConfigError("'tolerances' must map names to metres", path=str(path))
        try:
            tol = {k: float(v) for k, v in tolerances.items()}
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"'tolerances' must be numbers (metres): {exc}",
                              path=str(path)) from None
        return cls(rules=rules, tolerances=tol, path=str(path))

    def get(self, rule: str, key: str, default: Any = None) -> Any:
        return self.rules.get(rule, {}).get(key, default)

    def enabled(self, rule: str) -> bool:
        return rule in self.rules and self.rules[rule].get("enabled", True)

    def finding(self, rule: str, layer: str, rec: PointRec | SegRec, target: int,
                ids: list[str], fieldname: str | None = None, **values: Any) -> Finding:
        r = self.rules[rule]
        fmt = _Fmt({k: _fmtval(v) for k, v in values.items()})
        fmt.setdefault("field", fieldname or "")
        fmt.setdefault("field_en", values.get("field_en", fieldname or ""))
        return Finding(rule=rule, severity=r["severity"], layer=layer, table=rec.table,
                       row=rec.row, ids=ids, field=fieldname, target=target,
                       message_zh=str(r.get("message_zh", rule)).format_map(fmt),
                       message_en=str(r.get("message_en", rule)).format_map(fmt))


def _fmtval(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if math.isfinite(v) else str(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmtval(x) for x in v)
    return "" if v is None else str(v)
