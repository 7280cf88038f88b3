"""A pipe QA run's findings as the loader and the surveyor read them: the findings of each
record (which rows :mod:`loaders.pipes.load` rejects or flags), the counts by rule, and the
report written as text, JSON, CSV (UTF-8 with BOM, opens in Excel) or HTML. Apart from the
checks (:mod:`loaders.pipes.qa`): how findings are shown changes for their readers, never
what is checked.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim.errors import ConfigError
from loaders.pipes.qa_rules import Finding


@dataclass
class QAResult:
    findings: list[Finding]
    points: int
    segments: int
    tables: list[str]
    rules_path: str
    # what reading the delivery noted (a table skipped as no survey table, rows of no
    # record, the encoding read …): `cim qa pipes` says it as `cim load pipes` does
    notes: list[str] = field(default_factory=list)

    def by_target(self, layer: str) -> dict[int, list[Finding]]:
        out: dict[int, list[Finding]] = defaultdict(list)
        for f in self.findings:
            if f.layer == layer:
                out[f.target].append(f)
        return out

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.rule] = out.get(f.rule, 0) + 1
        return dict(sorted(out.items()))

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "points": self.points, "segments": self.segments,
                "errors": self.errors, "warnings": self.warnings, "by_rule": self.counts(),
                "rules": self.rules_path, "notes": self.notes,
                "findings": [f.to_dict() for f in self.findings]}

    def text(self) -> str:
        lines = [f"pipe survey QA: {self.points} points, {self.segments} segments in "
                 f"{len(self.tables)} tables — {self.errors} errors, {self.warnings} warnings"]
        lines += [f"  note: {n}" for n in self.notes]
        for rule, n in self.counts().items():
            lines.append(f"  {rule:<26} {n}")
        for f in self.findings:
            lines.append(f"  [{f.severity}] {f.rule} {f.table} row {f.row}: {f.message_zh} / "
                         f"{f.message_en}")
        return "\n".join(lines)

    def write(self, path: str | Path) -> Path:
        """Write the report as .json, .csv (UTF-8 with BOM, opens in Excel) or .html."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".json":
            path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2),
                            encoding="utf-8")
        elif suffix == ".csv":
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(["rule", "severity", "layer", "table", "row", "ids", "field",
                        "message_zh", "message_en"])
            for f in self.findings:
                w.writerow([f.rule, f.severity, f.layer, f.table, f.row, " ".join(f.ids),
                            f.field or "", f.message_zh, f.message_en])
            path.write_text(buf.getvalue(), encoding="utf-8-sig")
        elif suffix in (".html", ".htm"):
            path.write_text(self._html(), encoding="utf-8")
        else:
            raise ConfigError("the report must be a .json, .csv or .html file", path=str(path))
        return path

    def _html(self) -> str:
        e = html.escape
        rows = "\n".join(
            f"<tr class='{e(f.severity)}'><td>{e(f.rule)}</td><td>{e(f.severity)}</td>"
            f"<td>{e(f.table)}</td><td>{f.row}</td><td>{e(' '.join(f.ids))}</td>"
            f"<td>{e(f.message_zh)}</td><td>{e(f.message_en)}</td></tr>" for f in self.findings)
        summary = "".join(f"<li>{e(k)}: {v}</li>" for k, v in self.counts().items())
        notes = "".join(f"<li>{e(n)}</li>" for n in self.notes)
        return ("<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
                "<title>管线普查成果质量检查报告 Pipe survey QA report</title><style>"
                "body{font-family:sans-serif}table{border-collapse:collapse}"
                "td,th{border:1px solid #999;padding:2px 6px}tr.error{background:#fdd}"
                "tr.warning{background:#ffd}</style></head><body>"
                "<h1>管线普查成果质量检查报告 / Pipe survey QA report</h1>"
                f"<p>{self.points} points, {self.segments} segments; "
                f"{self.errors} errors, {self.warnings} warnings</p><ul>{summary}</ul>"
                + (f"<h2>说明 / Notes</h2><ul class='notes'>{notes}</ul>" if notes else "") +
                "<table><tr><th>rule</th><th>severity</th><th>table</th><th>row</th>"
                "<th>ids</th><th>说明</th><th>message</th></tr>"
                f"{rows}</table></body></html>")
