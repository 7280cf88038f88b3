"""The load report: what happened to every input feature, by reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass
class Reject:
    row_number: int | None
    reason: str
    message: str
    field: str | None = None
    source_key: str | None = None
    attrs: dict[str, Any] = dc_field(default_factory=dict)
    geom_wkt: str | None = None


class StagedFlags:
    """The flags of a staged load's rows, counted in its report only for the rows the merge
    stores: a row the merge rejects (a duplicate source id, outside the districts, already
    loaded) was counted as flagged too — two ``parcel_overlap`` flags reported for a pair of
    overlapping parcels of one id, of which one was stored. Kept by row number (the merge's
    rejects name the staged row's), for the flagged rows only."""

    def __init__(self) -> None:
        self.rows: dict[int, Any] = {}

    def add(self, rows: Any) -> None:
        """A converter's staged rows (:class:`loaders.engine.rows.StagedRows`)."""
        for row_no, flags in zip(rows.column("row_no"), rows.column("flags")):
            if flags:
                self.rows[int(row_no)] = flags

    def count(self, report: LoadReport, conn: Any) -> None:
        """Add the stored rows' flags to ``report``: after the merge, in its transaction."""
        if not self.rows:
            return
        gone = {r for (r,) in conn.execute(
            "SELECT row_number FROM load_rejects WHERE batch_id = %s "
            "AND row_number = ANY(%s)", (report.batch_id, list(self.rows)))}
        for row_no, flags in self.rows.items():
            if row_no not in gone:
                for f in flags:
                    report.flagged_by_reason[f] = report.flagged_by_reason.get(f, 0) + 1


@dataclass
class LoadReport:
    layer: str
    path: str
    batch_id: int | None = None
    status: str = "running"
    source_crs: str | None = None
    encoding: str | None = None
    mode: str = "update"
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    codes_issued: int = 0
    codes_reused: int = 0
    rejected_by_reason: dict[str, int] = dc_field(default_factory=dict)
    flagged_by_reason: dict[str, int] = dc_field(default_factory=dict)
    notes: list[str] = dc_field(default_factory=list)
    seconds: float = 0.0

    def add_rejects(self, reasons: Counter) -> None:
        for k, v in reasons.items():
            self.rejected_by_reason[k] = self.rejected_by_reason.get(k, 0) + v

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        lines = [
            f"load batch {self.batch_id} into {self.layer}: {self.status}",
            f"  source     {self.path}" + (f" ({self.source_crs})" if self.source_crs else ""),
            f"  read       {self.read}",
            f"  loaded     {self.loaded}  (new {self.inserted}, changed {self.updated}, "
            f"unchanged {self.unchanged})",
            f"  rejected   {self.rejected}",
        ]
        for reason, n in sorted(self.rejected_by_reason.items()):
            lines.append(f"    {reason:<24} {n}")
        if self.retired:
            lines.append(f"  retired    {self.retired}")
        if self.flagged_by_reason:
            lines.append("  flagged (loaded with a flag)")
            for reason, n in sorted(self.flagged_by_reason.items()):
                lines.append(f"    {reason:<24} {n}")
        lines.append(f"  codes      {self.codes_issued} issued, {self.codes_reused} kept")
        for n in self.notes:
            lines.append(f"  note: {n}")
        lines.append(f"  time       {self.seconds:.1f} s")
        return "\n".join(lines)
