"""The approval report: one self-contained HTML file (inline CSS, the map as a base64 PNG) that
approval staff can file, and its PDF printed by headless Chromium.

Sections: the project (site area, buildings, counted floor area), the summary table (every
rule with status, measured and required value and clause), each rule in detail (its items:
buildings, pairs, parcels; notes such as the area-weighted indices), and the map
(:mod:`layers.approval.mapdraw`).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from cim.errors import InputError

STATUS_ZH = {"pass": "通过", "fail": "不通过", "not_applicable": "不适用",
             "needs_review": "需人工复核", "info": "信息"}
STATUS_COLOUR = {"pass": "#1a7f37", "fail": "#c00000", "not_applicable": "#777777",
                 "needs_review": "#b26b00", "info": "#555555"}
CSS = """
@page{size:A4;margin:15mm}
@media print{body{margin:0}}
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;
 margin:24px;color:#222;font-size:14px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px}
h3{font-size:15px;margin-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;
 text-align:left;vertical-align:top}th{background:#f2f2f2}
.st{font-weight:bold;white-space:nowrap}.clause{color:#555;font-size:12px}
.map{max-width:100%;border:1px solid #ccc}.data td{word-break:break-all;font-size:12px}.rule{page-break-inside:avoid;margin-bottom:14px}
"""


def _st(s: str) -> str:
    return (f'<span class="st" style="color:{STATUS_COLOUR.get(s, "#000")}">'
            f"{escape(STATUS_ZH.get(s, s))} {escape(s)}</span>")


def _v(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".")
    return escape(str(v))


def _time(text: str | None, zone: str | None) -> str | None:
    """An RFC 3339 instant of the result on the clock ``zone``
    (:func:`cim.cityclock.on_city_clock`), to the second; as it is without a zone."""
    if text is None or zone is None:
        return text
    import datetime as dt

    from cim.cityclock import on_city_clock

    return on_city_clock(dt.datetime.fromisoformat(text), zone).isoformat(
        sep=" ", timespec="seconds")


def _n(v: Any) -> str:
    """A measured or required value as the result gives it (3 decimals, a failed one with as
    many more as keep it off its limit: :func:`layers.approval.result.shown`): its shortest
    decimal, which reads back as the same float. Twelve fixed decimals printed the binary
    float's noise, a parcel's 89,773.1 m² as 89,773.100000000006."""
    if isinstance(v, float):
        text = f"{v:,}"
        if "e" in text:  # below 1e-4 (a value kept off its limit by many decimals)
            text = f"{v:,.12f}".rstrip("0")
        return text.removesuffix(".0").rstrip(".")
    return _v(v)


def render_html(result: dict[str, Any], png: bytes | None, zone: str | None = None) -> str:
    """The report as one HTML string; its times on the clock of ``zone`` (the city's, the
    profile's ``timezone``) when given: the result's are UTC instants, 8 hours off for the
    staff in China who file it."""
    p, s = result["project"], result["summary"]
    out = ['<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
           f"<title>规划审查报告 {escape(p['name'])}</title><style>{CSS}</style></head><body>",
           f"<h1>建设项目规划审查报告 Approval check: {escape(p['name'])}</h1>",
           f"<p>结论 Result: {_st(s['status'])} — "
           + ", ".join(f"{STATUS_ZH[k]} {k}: {n}" for k, n in s["counts"].items())
           + f"</p><p class='clause'>检查时间 checked {escape(_time(result['checked_at'], zone))}; "
           f"文件 source {escape(p['source'])}"
           + (f" (SHA-256 <code>{escape(p['file_sha256'])}</code>)" if p.get("file_sha256")
              else "")
           + f"; CRS {escape(p['source_crs'])}; "
           f"规则 rules {escape(result['rules_file'])}"
           # the record it is filed with (approval_checks, `cim checks`), when recorded
           + (f"; 记录号 record #{int(result['record_id'])}"
              if result.get("record_id") is not None else "") + "</p>",
           "<h2>项目概况 Project</h2><table><tr><th>用地面积 site area</th>"
           f"<td>{_v(p['site_area_m2'])} m²</td></tr><tr><th>行政区 districts</th><td>"
           + ("; ".join([f"{escape(str(d['name']))} ({escape(str(d['code']))}) "
                         f"{_v(d['site_area_m2'])} m²" for d in p.get("districts") or []]
                        + ([f"不在本市行政区内 in no district of the city "
                            f"{_v(p['outside_districts_m2'])} m²"]
                           if p.get("outside_districts_m2") else []))
              or "—")
           + "</td></tr><tr><th>绿地面积 green area</th>"
           f"<td>{_v(p['green_area_m2'])} m²"
           + (f" (绘制 drawn in the site {_v(p['green_drawn_m2'])} m²)"
              if p.get("green_drawn_m2") not in (None, p["green_area_m2"]) else "")
           + (f"; 地下建筑上方（覆土） over underground structures "
              f"{_v(p['green_over_underground_m2'])} m²"
              if p.get("green_over_underground_m2") else "")
           + "</td></tr><tr><th>拆除 demolished</th>"
           f"<td>{escape(', '.join(p['demolish']) or '—')}</td></tr></table>",
           "<table><tr><th>建筑 building</th><th>基底面积 footprint m²</th><th>地上/地下层数 "
           "floors</th><th>高度 height m</th><th>用途 use</th><th>计容面积 counted m²</th></tr>"]
    for b in p["buildings"]:
        out.append(f"<tr><td>{escape(b['name'])}</td><td>{_v(b['footprint_m2'])}</td>"
                   f"<td>{_v(b['floors_above'])} / {_v(b['floors_below'])}</td>"
                   f"<td>{_v(b['height'])}</td><td>{_v(b['use'])}</td>"
                   f"<td>{_v(b['counted_area_m2'])} ({_v(b['counted_area_from'])})</td></tr>")
    out.append("</table>")
    if p.get("notes"):  # what the project file held that the check read otherwise or not at all
        out.append("<h2>读取说明 Reading notes</h2><ul>"
                   + "".join(f"<li>{escape(str(n))}</li>" for n in p["notes"]) + "</ul>")
    if png:
        out.append("<h2>位置图 Map</h2><img class='map' alt='map' src='data:image/png;base64,"
                   + base64.b64encode(png).decode() + "'>")
    out.extend(_data_html(result, zone))
    out.append("<h2>审查结果 Summary</h2><table><tr><th>规则 rule</th><th>状态 status</th>"
               "<th>实测 measured</th><th>要求 required</th><th>单位 unit</th>"
               "<th>依据 clause</th></tr>")
    for r in result["results"]:
        out.append(f"<tr><td><a href='#{r['id']}'>{escape(r['title']['zh'])}</a><br>"
                   f"<span class='clause'>{escape(r['title']['en'])} ({r['id']})</span></td>"
                   f"<td>{_st(r['status'])}</td><td>{_n(r['measured'])}</td>"
                   f"<td>{_n(r['required'])}</td><td>{_v(r['unit'])}</td>"
                   f"<td class='clause'>{escape(r['clause'])}</td></tr>")
    out.append("</table><h2>逐条说明 Details</h2>")
    for r in result["results"]:
        out.append(f"<div class='rule' id='{r['id']}'><h3>{escape(r['title']['zh'])} "
                   f"{escape(r['title']['en'])} — {_st(r['status'])}</h3>"
                   f"<div class='clause'>{escape(r['clause'])}</div>")
        for n in r["notes"]:
            out.append(f"<p>{escape(n)}</p>")
        if r["items"]:
            out.append("<table><tr><th>对象 item</th><th>状态 status</th><th>实测 measured</th>"
                       "<th>要求 required</th><th>说明 details</th></tr>")
            for i in r["items"]:
                extra = "; ".join(f"{k}: {_v(v)}" for k, v in i.items()
                                  if k not in ("what", "status", "measured", "required"))
                out.append(f"<tr><td>{escape(str(i['what']))}</td><td>{_st(i['status'])}</td>"
                           f"<td>{_n(i['measured'])}</td><td>{_n(i['required'])}</td>"
                           f"<td>{extra}</td></tr>")
            out.append("</table>")
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out)


LAYER_ZH = {"planning_parcels": "控规地块", "control_lines": "控制线", "height_zones": "限高区",
            "buildings": "现状建筑", "pipe_segments": "地下管线"}


def _data_html(result: dict[str, Any], zone: str | None = None) -> list[str]:
    """What the check was made with: the rules files (path, SHA-256) and, per layer, the
    features read, the load batches they come from and the layer's last change."""
    rules, data = result.get("rules") or {}, result.get("data") or []
    if not rules and not data:
        return []
    out = ["<h2>审查依据与数据版本 Rules and data checked</h2><table class='data'><tr><th>规则文件 rules"
           "</th><th>文件 file</th><th>SHA-256</th></tr>"]
    for k, v in rules.items():
        out.append(f"<tr><td>{escape(k)}</td><td>{escape(str(v.get('file')))}</td>"
                   f"<td><code>{_v(v.get('sha256'))}</code></td></tr>")
    out.append("</table><table class='data'><tr><th>图层 layer</th><th>读取要素 features read</th>"
               "<th>所属入库批次 their load batches (file, SHA-256, loaded)</th>"
               "<th>最近入库 the layer's latest load</th></tr>")

    def batch(b: dict[str, Any]) -> str:
        return (f"#{b['id']} {escape(str(b['file']))} <code>{_v(b['sha256'])}</code> "
                f"{_v(_time(b['loaded_at'], zone))}")

    for d in data:
        bs = "<br>".join(batch(b) for b in d["batches"])
        if d.get("features_without_batch"):
            bs += (("<br>" if bs else "") + f"{d['features_without_batch']} 要素无批次 "
                   "features without a load batch")
        out.append(f"<tr><td>{escape(LAYER_ZH.get(d['layer'], d['layer']))} "
                   f"{escape(d['layer'])}</td><td>{_v(d['features_read'])}</td>"
                   f"<td>{bs or '—'}</td><td>"
                   + _latest(d, batch) + "</td></tr>")
    out.append("</table>")
    return out


def _latest(d: dict[str, Any], batch: Any) -> str:
    """The layer's latest load: named in full unless the features read are of it."""
    last = d.get("latest_load")
    if not last:
        return "—"
    if any(b["id"] == last["id"] for b in d["batches"]):
        return f"#{last['id']} (所读要素所属 that of the features read)"
    return batch(last)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def print_pdf(html: str, out: Path, timeout: float = 120.0) -> None:
    """Print the report to PDF with headless Chromium (Debian ``chromium``)."""
    exe = chromium()
    if exe is None:
        raise InputError("--pdf needs headless Chromium (Debian package chromium); the HTML "
                         "report (--report) needs nothing")
    with tempfile.TemporaryDirectory(prefix="cim-report-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(html, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={tmp}/profile", f"--print-to-pdf={Path(out).resolve()}",
               src.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not Path(out).exists() or Path(out).stat().st_size == 0:
        raise InputError(f"Chromium could not print the PDF: {proc.stderr.strip()[-300:]}",
                         path=str(out))
