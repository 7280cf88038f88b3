"""What reading a pipe delivery hands to QA and loading, and what a pipe load reports.

Kept apart from the readers and the writer so that both kinds of delivery (survey tables and
GIS layers) and the loader share one shape without importing each other. The point and
segment records themselves live with the checks that read them (:mod:`loaders.pipe_qa`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loaders.pipe_qa import PointRec, SegRec
from loaders.report import LoadReport

# the Chinese column name a problem or reject names, as the surveyor reads it in the delivery
FIELD_ZH = {"point_no": "物探点号", "x": "X", "y": "Y", "ground_elevation": "地面高程",
            "start_no": "起始点号", "end_no": "终止点号", "class": "管线类别",
            "geometry": "geometry"}


@dataclass
class Delivery:
    """A parsed delivery: records, where they came from and how coordinates were read."""

    points: list[PointRec]
    segments: list[SegRec]
    tables: list[str]
    survey: bool
    source_crs: str | None = None
    source_srid: int | None = None
    notes: list[str] = field(default_factory=list)
    derived_nodes: int = 0  # GIS: topology nodes made from line ends (not read from a file)
    files: list[Path] = field(default_factory=list)  # every file read
    inputs: list[Path] = field(default_factory=list)  # the paths given (files or folders)


@dataclass
class PipeLoadReport(LoadReport):
    qa: dict[str, Any] = field(default_factory=dict)
    topology: dict[str, Any] = field(default_factory=dict)
    appurtenances: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        lines = [super().text()]
        if self.qa:
            lines.append(f"  QA         {self.qa.get('errors', 0)} errors, "
                         f"{self.qa.get('warnings', 0)} warnings")
            for rule, n in (self.qa.get("by_rule") or {}).items():
                lines.append(f"    {rule:<24} {n}")
        t = self.topology
        if t:
            lines.append(f"  topology   {t['segments']} segments, {t['nodes']} nodes, "
                         f"{t['connected_components']} connected components (largest "
                         f"{t['largest_component_segments']} segments), {t['dangling_ends']} "
                         f"dangling ends, {t['isolated_points']} points on no segment")
        a = self.appurtenances
        if a:
            lines.append(f"  attached   {a['attached_by_id']} by pipe id, {a['attached_nearest']} "
                         f"to the nearest segment, {a['unattached']} unattached")
        return "\n".join(lines)
