"""One rule's result: status, numbers, clause and the offending geometry (GeoJSON, CRS84).

Statuses: ``pass``, ``fail``, ``not_applicable`` (nothing the rule governs is there, e.g. no
height zone over the site) and ``needs_review`` (data the rule needs is missing: never a pass).
The overall status is fail if any rule fails, else needs_review if any needs review, else pass.
Numbers are given to 3 decimals (mm, 0.001 of an index), a failed one with as many more as it
takes not to read as its limit (FAR 2.0004 against 2.0 is 2.0004, never 2.0): :func:`shown`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
import shapely.geometry

from cim.crs import lonlat_srid, transformer
from layers.approval.config import RuleConf

STATUSES = ("pass", "fail", "not_applicable", "needs_review")


def crs84(g: shapely.Geometry, srid: int) -> dict[str, Any]:
    """``g`` (storage CRS) as a GeoJSON geometry in lon/lat, 8 decimals (~1 mm), as the query
    library writes its GeoJSON (``layers.query.sqlparts``): :func:`cim.crs.lonlat_srid` —
    CGCS2000 lon/lat for CGCS2000 data, not PROJ's OGC:CRS84, whose CGCS2000 → WGS 84
    operation (a ballpark no-op, so the same numbers) costs each process its search."""
    t = transformer(srid, lonlat_srid(srid))
    out = shapely.transform(g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    return shapely.geometry.mapping(shapely.set_precision(out, 1e-8))


class Result:
    """Builder of one rule's result dict."""

    def __init__(self, conf: RuleConf, unit: str | None = None) -> None:
        self.conf = conf
        self.unit = unit
        self.items: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.offending: list[tuple[shapely.Geometry, str]] = []
        self.measured: Any = None
        self.required: Any = None
        self._status: str | None = None

    def item(self, status: str, what: str, measured: Any = None, required: Any = None,
             geom: shapely.Geometry | None = None, **extra: Any) -> None:
        """One checked thing (a building, a pair, a line); failing ones carry their place."""
        assert status in STATUSES, status
        m, r = shown(measured, required, status == "fail")
        self.items.append({"status": status, "what": what, "measured": m, "required": r,
                           **extra})
        if status == "fail" and geom is not None and not geom.is_empty:
            self.offending.append((geom, what))

    def status(self, s: str) -> None:
        self._status = s

    def final_status(self) -> str:
        if not self.conf.enabled:
            return "not_applicable"
        if self._status:
            return self._status
        ss = {i["status"] for i in self.items}
        for s in ("fail", "needs_review", "pass"):
            if s in ss:
                return s
        return "not_applicable"

    def to_dict(self, srid: int) -> dict[str, Any]:
        c = self.conf
        feats = [{"type": "Feature", "properties": {"what": w}, "geometry": crs84(g, srid)}
                 for g, w in self.offending]
        notes = self.notes if c.enabled else ["disabled by the rules file"]
        status = self.final_status()
        m, r = shown(self.measured, self.required, status == "fail")
        return {"id": c.id, "title": {"zh": c.title_zh, "en": c.title_en},
                "status": status, "measured": m, "required": r, "unit": self.unit,
                "clause": c.clause,
                "notes": notes, "items": self.items if c.enabled else [],
                "geometry": {"type": "FeatureCollection", "features": feats}
                if c.enabled else {"type": "FeatureCollection", "features": []}}


DECIMALS = 3
NOISE = 1e-9  # a difference no rule counts (rules_indices.EPS)


def _r(v: Any, nd: int = DECIMALS) -> Any:
    return round(v, nd) if isinstance(v, float) else v


def shown(measured: Any, required: Any, failed: bool) -> tuple[Any, Any]:
    """``measured`` and ``required`` as given: 3 decimals; a failed value with more (up to
    12) where 3 would show it equal to its limit. Rounding both alike never turns an order
    round, so a passing value is never shown past its limit and a failed one, thus, never
    on its limit or the passing side."""
    m, r = _r(measured), _r(required)
    if not failed or isinstance(measured, bool) or isinstance(required, bool) or \
            not isinstance(measured, int | float) or not isinstance(required, int | float) or \
            abs(measured - required) <= NOISE:
        return m, r
    nd = DECIMALS
    while m == r and nd < 12:
        nd += 1
        m, r = round(float(measured), nd), round(float(required), nd)
    return (_r(measured, nd) if isinstance(measured, float) else measured,
            _r(required, nd) if isinstance(required, float) else required)


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {s: sum(1 for r in results if r["status"] == s) for s in STATUSES}
    status = "fail" if counts["fail"] else "needs_review" if counts["needs_review"] else "pass"
    return {"status": status, "counts": counts}
