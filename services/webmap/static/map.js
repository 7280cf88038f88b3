// The CIM one map: MapLibre GL JS over the platform's vector tiles with the shared styles
// (/styles/onemap), a layer tree from /map/tree.json, identify, search by code, zoom to a
// district or grid cell, and the query library's area of interest and cross-section.
// Plain script, no build step; every request goes to the platform itself.
(function () {
  "use strict";
  const BASE = window.CIM_MAP.base;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const state = window.CIM_STATE = {ready: false, identified: null, titles: {}, fields: {}, info: {}, tool: null};

  const map = new maplibregl.Map({
    container: "map",
    style: window.CIM_MAP.style,
    center: window.CIM_MAP.center, zoom: 10,  // the city's centre (the profile's area)
    // Chinese characters come from the browser's fonts; only Latin/symbol glyph PBFs are served
    localIdeographFontFamily: "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif",
    attributionControl: {compact: true},
  });
  window.CIM_MAP.map = map;
  map.addControl(new maplibregl.NavigationControl(), "top-left");
  map.addControl(new maplibregl.ScaleControl({unit: "metric"}), "bottom-left");

  async function getJSON(url) {
    // no answer at all (the server down, the network away): marked, an outage to wait out
    const r = await fetch(url, {headers: {Accept: "application/json"}})
      .catch((e) => { throw Object.assign(e, {network: true}); });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw Object.assign(new Error(body.description || body.detail || r.status + " " + r.statusText), {status: r.status});
    return body;
  }

  function info(html) { $("info-body").innerHTML = html; }
  function fail(where, e) { info(`<p class="err">${esc(where)}：${esc(e.message || e)}</p>`); }

  // -- extent helpers ------------------------------------------------------------------------
  function bboxOf(geom) {
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    (function walk(c) {
      if (typeof c[0] === "number") {
        b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]);
        b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
      } else c.forEach(walk);
    })(geom.type === "GeometryCollection" ? geom.geometries.map((g) => g.coordinates) : geom.coordinates);
    return b;
  }
  function zoomTo(geom) {
    const b = bboxOf(geom);
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]], {padding: 60, maxZoom: 18, duration: 0});
    map.getSource("cim-highlight").setData({type: "Feature", geometry: geom, properties: {}});
  }

  // -- feature attributes ----------------------------------------------------------------------
  // the live layers' headline: an alarm's level, value and case; a case's state, category and
  // deadline (the full attribute table follows)
  // times on the city's clock (the profile's timezone): the API gives instants in UTC, and
  // cutting "2026-06-15T01:40:00+00:00" to 01:40 showed a case due at 13:40 in Jining as 05:40
  const clock = (tz) => new Intl.DateTimeFormat("sv-SE", {timeZone: tz, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"});
  // a zone the browser's ICU does not know must not stop the page (China's clock then)
  const CLOCK = (() => { try { return clock(window.CIM_MAP.tz || "Asia/Shanghai"); } catch (e) { return clock("Asia/Shanghai"); } })();
  const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
  const local = (t) => CLOCK.format(new Date(t)).replace(/:00$/, "");
  const when = (t) => (t ? (INSTANT.test(String(t)) ? local(t).slice(0, 16) : String(t)) : "—");
  // a JSON attribute's times too (an alarm's 详情: when its sensor went silent, when it
  // escalated), and yes/no in Chinese (a green space's 公园绿地 read "true")
  const localTimes = (k, x) => (typeof x === "string" && INSTANT.test(x) ? local(x) : x);
  const shown = (v) => (typeof v === "boolean" ? (v ? "是" : "否")
    : typeof v === "object" ? JSON.stringify(v, localTimes) : INSTANT.test(String(v)) ? local(v) : v);
  // a code in Chinese (an alarm's 告警中, 数据中断: they read active, gap) and a number to its
  // unit's decimals (a pipe's 长度 printed 14): the style's metadata cim:info, built by the
  // server from layers/styles/value_labels.yaml and the columns' declared units
  // a list (a sensor's 标记 ["position_from_asset"]) item by item and a JSON object (an
  // alarm's 详情) key by key through the column's labels too: they showed as raw JSON in
  // English; an unlabelled item or key shows as it is, times inside on the city's clock
  // a flag of a word and what it names (a risk point's alarm:<code>): the word, then the rest
  function prefixed(flag) {
    const words = (state.info || {}).flag_prefixes || {};
    const p = Object.keys(words).find((w) => flag.startsWith(w));
    return p === undefined ? flag : `${words[p]} ${flag.slice(p.length)}`;
  }
  function formatted(collection, k, v) {
    const info = state.info || {};
    // a layer's 标记 through the words shared by every layer (info.flags), its own over them
    const own = ((info.values || {})[collection] || {})[k] || {};
    const labels = k === "flags" ? {...(info.flags || {}), ...own} : own;
    const label = labels[String(v)];
    if (label !== undefined && typeof v !== "object") return label;
    const part = (x) => (Array.isArray(x) ? x.map(part).join("、")
      : x !== null && typeof x === "object"
        ? Object.entries(x).map(([key, y]) => `${labels[key] ?? key}：${y !== null && typeof y === "object" && !Array.isArray(y) ? `（${part(y)}）` : part(y)}`).join("；")
        : x === null ? "—" : typeof x === "string" && labels[x] !== undefined ? labels[x]
        // a number inside a 详情 to 3 decimals (an index's dimension read 0.9361702105263159)
        : typeof x === "number" && !Number.isInteger(x) ? String(Number(x.toFixed(3)))
        : k === "flags" && typeof x === "string" ? prefixed(x) : shown(x));
    if (v !== null && typeof v === "object") return part(v);
    const n = ((info.decimals || {})[collection] || {})[k];
    if (typeof v === "number" && Number.isInteger(n)) return String(Number(v.toFixed(n)));
    return shown(v);
  }
  function summary(collection, p) {
    if (collection === "alarms") {
      // a gap alarm (a sensor gone silent) has no value: it read "井下液位 m，峰值 —"
      const value = p.last_value === null || p.last_value === undefined
        ? `${esc(formatted(collection, "kind", p.kind))}`
        : `${esc(p.last_value)} ${esc(p.unit || "")}，峰值 ${esc(p.peak_value ?? "—")}`;
      return `<p class="live" id="info-summary">${esc(p.level_name || p.level)}告警（${esc(p.status === "active" ? "告警中" : "已解除")}）
        ${esc(p.type_name || "")} ${value}
        <br>案件 <span class="code">${esc(p.case_code || "—")}</span> · ${esc(when(p.opened_at))}</p>`;
    }
    if (collection === "cases")
      return `<p class="live" id="info-summary">${esc(p.state)} · ${esc(p.category_name || p.category_code)}（${esc(p.source || "")}）
        <br>处置单位 ${esc(p.unit || "—")} · 时限 ${esc(when(p.deadline))}</p>`;
    return "";
  }
  // the other features under a click (an alarm's case and sensor at its spot, the pipe under
  // a risk point, the grid cell): each a link that shows it, the list kept
  function hereList(collection, code, here) {
    const more = (here || []).filter((h) => !(h.collection === collection && h.code === String(code)));
    if (!more.length) return "";
    return `<div id="info-here"><p class="hint">此处还有：</p><ul>${more.map((h) =>
      `<li><a href="#" data-collection="${esc(h.collection)}" data-code="${esc(h.code)}">${esc(state.titles[h.collection] || h.collection)} <span class="code">${esc(h.code)}</span></a></li>`).join("")}</ul></div>`;
  }
  async function showItem(collection, code, zoom, here) {
    const f = await getJSON(`${BASE}/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(code)}?f=json`);
    // attributes under their Chinese names (/map/fields.json, QGIS's aliases), the column
    // name in the tooltip; nothing for an empty value or list
    const names = state.fields[collection] || {};
    const rows = Object.entries(f.properties || {})
      .filter(([, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length))
      .map(([k, v]) => `<tr><th title="${esc(k)}">${esc(names[k] || k)}</th><td title="${esc(typeof v === "object" ? JSON.stringify(v) : v)}">${esc(formatted(collection, k, v))}</td></tr>`).join("");
    info(`<h3>${esc(state.titles[collection] || collection)}</h3>
      <p>编码 <span class="code" id="info-code">${esc(f.id || code)}</span></p>
      ${summary(collection, f.properties || {})}
      <table>${rows}</table>
      <p><a href="${BASE}/collections/${esc(collection)}/items/${esc(code)}?f=html" target="_blank">OGC API 页面</a></p>
      ${hereList(collection, f.id || code, here)}`);
    state.identified = {collection, code: String(f.id || code)};
    state.here = here || [];
    if (zoom && f.geometry) zoomTo(f.geometry);
    else if (f.geometry) map.getSource("cim-highlight").setData({type: "Feature", geometry: f.geometry, properties: {}});
  }

  // -- layer tree --------------------------------------------------------------------------------
  // a point's swatch is drawn as the map draws it, from the item the server built from the
  // same symbol (layers/styles/maplibre.py point_legend): the marker's glyph (◆ valve, ▲
  // hydrant, ■, ✚) in its fill with its outline as halo, else a circle in its fill and outline
  // (a well white, ringed in its class colour); sizes kept within the tree's line
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, +v || lo));
  function pointSwatch(l) {
    const w = clamp(l.stroke_width, 0, 2), title = `title="${esc(l.label)}"`;
    if (l.glyph) {
      const halo = w ? [[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1], [1, -1], [-1, 1]]
        .map(([x, y]) => `${(x * w).toFixed(2)}px ${(y * w).toFixed(2)}px 0 ${l.stroke}`).join(",") : "none";
      return `<span class="sw glyph" data-shape="${esc(l.shape)}" ${title} style="${esc(`width:18px;height:auto;border:0;background:none;text-align:center;line-height:1;font-size:${clamp(l.text_size, 10, 16)}px;color:${l.fill};text-shadow:${halo}`)}">${esc(l.glyph)}</span>`;
    }
    const d = clamp(l.size, 6, 16);
    return `<span class="sw circle" data-shape="${esc(l.shape || "circle")}" ${title} style="${esc(`width:${d}px;height:${d}px;box-sizing:border-box;border-radius:50%;background:${l.fill};border:${w ? Math.max(1, w).toFixed(2) : 0}px solid ${l.stroke}`)}"></span>`;
  }
  function swatch(l) {
    if (l.kind === "circle" && l.fill) return pointSwatch(l);
    const prop = l.kind === "line" ? "border-top-color" : "background";
    return `<span class="sw ${esc(l.kind)}" title="${esc(l.label)}" style="${prop}:${esc(l.color)}"></span>`;
  }
  function setVisible(ids, on) {
    for (const id of ids) if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", on ? "visible" : "none");
  }
  // a result layer's selector (城市体检: the index or one indicator): its style layers take the
  // option's filter, and its fill the option's colour (built by the server from styles.yaml)
  function choose(child, opt) {
    for (const id of child.layers) {
      const l = map.getLayer(id);
      if (!l) continue;
      map.setFilter(id, opt.filter);
      if (l.type === "fill") map.setPaintProperty(id, "fill-color", opt["fill-color"]);
    }
  }
  // a group's box says whether its layers are shown: all, none, or some (indeterminate); it
  // stayed unticked over a layer ticked again, which the map drew
  function sync(det) {
    const kids = [...det.querySelectorAll("input[data-child]")], on = kids.filter((k) => k.checked).length;
    const box = det.querySelector("summary input");
    box.checked = on === kids.length;
    box.indeterminate = on > 0 && on < kids.length;
  }
  function buildTree(tree) {
    const root = $("tree-body");
    root.innerHTML = "";
    tree.forEach((g, gi) => {
      const det = document.createElement("details");
      det.open = true;
      const all = g.children.flatMap((c) => c.layers);
      det.innerHTML = `<summary><input type="checkbox" checked data-group="${gi}"> ${esc(g.group)}</summary>`;
      g.children.forEach((c) => {
        const div = document.createElement("div");
        div.className = "child";
        const legend = (c.legend || []).length > 1
          ? `<div class="legend">${c.legend.map((l) => `${swatch(l)}${esc(l.label)}`).join("<br>")}</div>` : "";
        const one = (c.legend || []).length === 1 ? swatch(c.legend[0]) : "";
        const pick = c.select
          ? `<select class="pick" data-select="${esc(c.id)}">${c.select.options.map((o, i) => `<option value="${i}">${esc(o.label)}</option>`).join("")}</select>` : "";
        div.innerHTML = `<label><input type="checkbox" checked data-child="${esc(c.id)}"> ${one}${esc(c.title)}</label>${pick}${legend}`;
        div.querySelector("input").addEventListener("change", (e) => { setVisible(c.layers, e.target.checked); sync(det); });
        if (c.select) div.querySelector("select").addEventListener("change", (e) => choose(c, c.select.options[+e.target.value]));
        det.appendChild(div);
      });
      det.querySelector("summary input").addEventListener("change", (e) => {
        setVisible(all, e.target.checked);
        det.querySelectorAll("input[data-child]").forEach((i) => { i.checked = e.target.checked; });
        sync(det);
      });
      root.appendChild(det);
    });
  }

  // -- zoom to a district or a grid cell ----------------------------------------------------------
  // every feature of a collection, page after page (a city has thousands of unit grid cells: one
  // page of 1,000 left the rest out of the list), codes and names only (the geometry is fetched
  // when one is chosen)
  async function allItems(coll) {
    const out = [];
    let url = `${BASE}/collections/${coll}/items?f=json&limit=1000&skipGeometry=true&properties=name`;
    while (url) {
      const fc = await getJSON(url);
      out.push(...(fc.features || []));
      const next = (fc.links || []).find((l) => l.rel === "next");
      url = next && (fc.features || []).length ? next.href : null;
    }
    return out;
  }
  // filled again when the districts' or grid cells' versions move (below): a district `cim
  // profile apply` added while the page was open is listed without reloading it
  const GOTO = [["admin_divisions", "行政区"], ["grid_cells", "网格"]];
  async function fillGoto() {
    const sel = $("goto");
    const groups = [];
    for (const [coll, label] of GOTO) {
      try {
        const features = await allItems(coll);
        if (!features.length) continue;
        const og = document.createElement("optgroup");
        og.label = label;
        for (const f of features) {
          const o = document.createElement("option");
          o.value = `${coll}/${f.id}`;
          o.textContent = `${f.properties.name || ""} ${f.id}`.trim();
          og.appendChild(o);
        }
        groups.push(og);
      } catch (e) { /* a layer not served: nothing to list */ }
    }
    const chosen = sel.value;
    sel.querySelectorAll("optgroup").forEach((og) => og.remove());
    groups.forEach((og) => sel.appendChild(og));
    sel.value = chosen;
    if (sel.value !== chosen) sel.value = "";
  }
  $("goto").addEventListener("change", () => {
    const sel = $("goto");
    if (!sel.value) return;
    const [coll, code] = sel.value.split("/");
    showItem(coll, code, true).catch((e) => fail("定位", e));
  });

  // -- search by code (cim code explain) ---------------------------------------------------------
  // the parts of a code /codes/{code} names (layers.features.explain_code); its `exists`
  // is the sentence above the table
  const EXPLAINED = {code: "编码", kind: "编码类型", district_code: "行政区代码", district_name: "行政区",
    street_code: "街道代码", community_code: "社区代码", grid_code: "网格代码", layer_code: "图层代码",
    layer_name: "图层", layer: "图层标识", class_code: "分类代码", class_name: "分类", serial: "顺序号"};
  const KINDS = {admin: "行政区", street: "街道", community: "社区", grid: "单元网格", component: "城市部件", feature: "要素"};
  $("search").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = $("code").value.trim();
    if (!code) return;
    try {
      // a sensor's device id (LV-003: what an alarm and `cim iot` name it by) is no platform
      // code: the box answered "code 'LV-003' is not all digits"
      if (!/^\d+$/.test(code)) {
        const fc = await getJSON(`${BASE}/collections/sensors/items?f=json&limit=2&skipGeometry=true&properties=device_id&device_id=${encodeURIComponent(code)}`)
          .catch(() => ({features: []}));  // no sensors served
        const hit = (fc.features || []).filter((f) => f.properties.device_id === code);
        if (hit.length === 1) return await showItem("sensors", hit[0].id, true);
        return info(`<p class="err">「${esc(code)}」不是平台编码（全为数字），也不是监测设备编号。</p>`);
      }
      const d = await getJSON(`${BASE}/codes/${encodeURIComponent(code)}`);
      if (d.exists && d.layer) return await showItem(d.layer, d.code, true);
      // what the code spells (cim code explain), under Chinese headings
      const rows = Object.entries(d).filter(([k]) => k in EXPLAINED)
        .map(([k, v]) => `<tr><th title="${esc(k)}">${esc(EXPLAINED[k])}</th><td>${esc(k === "kind" ? KINDS[v] || v : shown(v))}</td></tr>`).join("");
      info(`<h3>编码 <span class="code">${esc(d.code)}</span></h3><p>没有这个编码的现势要素。</p><table>${rows}</table>`);
    } catch (e) { fail("编码", e); }
  });

  // -- drawing tools: a box (area of interest) or a line (cross-section) --------------------------
  let start = null;
  function setTool(name) {
    state.tool = state.tool === name ? null : name;
    $("tool-aoi").classList.toggle("active", state.tool === "aoi");
    $("tool-section").classList.toggle("active", state.tool === "section");
    map.getCanvas().style.cursor = state.tool ? "crosshair" : "";
    if (state.tool === "aoi") map.dragPan.disable(); else map.dragPan.enable();
    start = null;
  }
  const drawn = (geom) => map.getSource("cim-draw").setData(geom ? {type: "Feature", geometry: geom, properties: {}} : {type: "FeatureCollection", features: []});
  const boxGeom = (a, b) => ({type: "Polygon", coordinates: [[[a.lng, a.lat], [b.lng, a.lat], [b.lng, b.lat], [a.lng, b.lat], [a.lng, a.lat]]]});
  $("tool-aoi").addEventListener("click", () => setTool("aoi"));
  $("tool-section").addEventListener("click", () => setTool("section"));
  $("tool-clear").addEventListener("click", () => { setTool(null); drawn(null); info('<p class="hint">点击地图上的要素查看属性。</p>'); });

  let startPx = null;
  map.on("mousedown", (e) => { if (state.tool === "aoi") { start = e.lngLat; startPx = e.point; } });
  map.on("mousemove", (e) => {
    if (state.tool === "aoi" && start) drawn(boxGeom(start, e.lngLat));
    if (state.tool === "section" && start) drawn({type: "LineString", coordinates: [[start.lng, start.lat], [e.lngLat.lng, e.lngLat.lat]]});
  });
  map.on("mouseup", async (e) => {
    if (state.tool !== "aoi" || !start) return;
    const a = start, b = e.lngLat;
    start = null;
    // a click, not a drag: a box of no size, which the server refused in English
    if (Math.abs(e.point.x - startPx.x) < 3 || Math.abs(e.point.y - startPx.y) < 3) {
      drawn(null);
      return info('<p class="hint">按住鼠标在地图上拖出一个矩形，统计框内各图层的要素数。</p>');
    }
    drawn(boxGeom(a, b));
    const bbox = [Math.min(a.lng, b.lng), Math.min(a.lat, b.lat), Math.max(a.lng, b.lng), Math.max(a.lat, b.lat)];
    info("<p>统计中…</p>");
    try {
      const r = await getJSON(`${BASE}/map/api/aoi?bbox=${bbox.map((v) => v.toFixed(7)).join(",")}`);
      // in the layers' order (/collections), not the JSON's alphabetical one
      const order = Object.keys(state.titles);
      const rank = (k) => (order.indexOf(k) < 0 ? order.length : order.indexOf(k));
      const rows = Object.entries(r.layers).sort(([a], [b]) => rank(a) - rank(b)).map(([k, v]) => `<tr><th>${esc(state.titles[k] || k)}</th><td id="aoi-${esc(k)}">${v.count}</td></tr>`).join("");
      info(`<h3>拉框统计</h3><p class="hint">${bbox.map((v) => v.toFixed(5)).join(", ")}</p><table>${rows}</table>`);
    } catch (err) { fail("拉框统计", err); }
  });

  async function section(a, b) {
    const wkt = `LINESTRING(${a.lng.toFixed(7)} ${a.lat.toFixed(7)}, ${b.lng.toFixed(7)} ${b.lat.toFixed(7)})`;
    info("<p>生成横断面…</p>");
    try {
      const r = await getJSON(`${BASE}/map/api/section?line=${encodeURIComponent(wkt)}`);
      info(`<h3>横断面</h3><p>长 ${r.length_m} 米，穿过管线 ${r.rows.length} 条</p><div id="section-svg">${r.svg}</div>`);
    } catch (err) { fail("横断面", err); }
  }

  // identify: what lies under the pointer, each feature once (a feature is drawn by several
  // style layers and cut by tiles), in drawing order, labels last (a point drawn as a shape
  // glyph is a symbol layer too, but no label); a point before the lines drawn above it — a
  // risk point sits on its pipe, drawn under the pipe's line, and a click on the point
  // identified the pipe — but not before an area drawn above it, which may hide it
  const GEOM = {Point: "point", MultiPoint: "point", LineString: "line", MultiLineString: "line"};
  function underClick(p) {
    const label = (f) => !!((map.getLayer(f.layer.id) || {}).metadata || {})["cim:label"];
    const hits = map.queryRenderedFeatures([[p.x - 3, p.y - 3], [p.x + 3, p.y + 3]])
      .filter((f) => (f.source === "cim" || f.source === "live") && f.properties.code !== undefined);
    const seen = new Map();
    for (const f of [...hits.filter((h) => !label(h)), ...hits.filter(label)]) {
      const key = `${f.sourceLayer}/${f.properties.code}`;
      if (!seen.has(key)) seen.set(key, {collection: f.sourceLayer, code: String(f.properties.code), kind: GEOM[f.geometry.type] || "area", label: label(f)});
    }
    const all = [...seen.values()];
    const drawn = all.filter((h) => !h.label);
    const area = drawn.findIndex((h) => h.kind === "area");
    const point = drawn.slice(0, area < 0 ? drawn.length : area).find((h) => h.kind === "point");
    return (point ? [point, ...all.filter((h) => h !== point)] : all).slice(0, 12);
  }

  map.on("click", async (e) => {
    if (state.tool === "section") {
      if (!start) { start = e.lngLat; return; }
      const a = start;
      start = null;
      drawn({type: "LineString", coordinates: [[a.lng, a.lat], [e.lngLat.lng, e.lngLat.lat]]});
      return section(a, e.lngLat);
    }
    if (state.tool) return;
    const here = underClick(e.point);
    if (!here.length) return;
    try { await showItem(here[0].collection, here[0].code, false, here); } catch (err) { fail("查询", err); }
  });
  $("info-body").addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-collection]");
    if (!a) return;
    ev.preventDefault();
    showItem(a.dataset.collection, a.dataset.code, false, state.here).catch((err) => fail("查询", err));
  });

  // -- the map follows the database ---------------------------------------------------------------
  // Every LIVE_S seconds (?live=S overrides) the map asks /tiles/versions for the data versions
  // of the layers it draws — what their tiles' ETags are made of — and reloads a vector source
  // only when a version of one of its own layers moved, with its layers' versions in the tile
  // URL: unchanged data keeps its URL (and 304s). The live source (risk points raised in place
  // by an alarm on their asset, sensors, alarms, cases: layers.catalog.live_layers) moves
  // often; the one map's moves too — a reload of the buildings while the page is open — and
  // was never asked again.
  // a ?live= that is no number (?live=abc) made NaN, which setInterval takes as 0: the page
  // asked for the versions as fast as the browser could
  const LIVE_ASKED = +(new URLSearchParams(location.search).get("live") || window.CIM_MAP.live || 12);
  const LIVE_S = Number.isFinite(LIVE_ASKED) ? Math.max(1, LIVE_ASKED) : 12;
  state.live = {version: null, reloads: 0, sources: {}, away: false, recoveries: 0};
  // the sources whose tiles failed (a 503 while the database was away): MapLibre never asks
  // for a failed tile again, so the map stayed blank after the database came back
  state.tileErrors = new Set();
  map.on("error", (e) => { if (e && e.sourceId) state.tileErrors.add(e.sourceId); });
  // the server or its database away: said once at the top of the info panel (what it shows
  // stays below), taken away when they return
  function away(e) {
    state.live.away = true;
    if (!$("info-away")) $("info-body").insertAdjacentHTML("afterbegin", `<p class="err" id="info-away">服务暂不可用，恢复后地图将自动刷新：${esc(e.message || e)}</p>`);
  }
  function back() {
    state.live.away = false;
    const p = $("info-away");
    if (p) p.remove();
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // a short, stable tag of a source's versions (the one map's are a dozen layers long)
  const tag = (s) => { let h = 0x811c9dc5; for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); } return (h >>> 0).toString(16); };
  async function startLive() {
    const style = map.getStyle();
    const watched = [];
    for (const [id, def] of Object.entries(style.sources || {})) {
      if (def.type !== "vector" || !def.url || !map.getSource(id)) continue;
      const names = [...new Set(style.layers.filter((l) => l.source === id).map((l) => l["source-layer"]))];
      if (!names.length) continue;
      const tj = await getJSON(def.url);
      watched.push({id, names, template: tj.tiles[0], version: null});
    }
    if (!watched.length) return;
    const all = [...new Set(watched.flatMap((w) => w.names))];
    const units = () => GOTO.map(([n]) => `${n}=${state.live.layers[n]}`).join(";");
    async function versions() {
      const v = (await getJSON(`${BASE}/tiles/versions?collections=${all.join(",")}`)).versions;
      for (const w of watched) w.now = w.names.map((n) => `${n}=${v[n]}`).join(";");
      state.live.layers = v;
    }
    // a source's tiles asked again: its layers' versions in the URL, and a recovery's count
    // when failed tiles are asked again with the same versions (a new URL: MapLibre refetches)
    const reload = (w) => {
      const r = state.live.recoveries ? `&r=${state.live.recoveries}` : "";
      map.getSource(w.id).setTiles([`${w.template}${w.template.includes("?") ? "&" : "?"}v=${tag(w.now)}${r}`]);
    };
    // tiles failed with no outage seen (a tile the server could not make in time): asked
    // again once, then at growing intervals while they keep failing — at most every 32
    // ticks (a tile that always fails had every tile of its source fetched again, from
    // every open screen, each tick)
    let errorWait = 0, errorTicks = 0;
    function failedSources(recovered) {
      if (recovered) { errorWait = 0; errorTicks = 0; }
      else if (!state.tileErrors.size) return new Set();  // (the wait kept: tiles fail late)
      else if (errorTicks-- > 0) return new Set();
      else { errorWait = Math.min(2 * errorWait || 1, 32); errorTicks = errorWait; }
      const failed = recovered ? new Set(watched.map((w) => w.id)) : new Set(state.tileErrors);
      state.tileErrors.clear();
      if (failed.size) state.live.recoveries += 1;
      return failed;
    }
    await versions();
    let listed = units();
    for (const w of watched) { w.version = w.now; state.live.sources[w.id] = {version: w.now, reloads: 0}; }
    state.live.version = (watched.find((w) => w.id === "live") || {}).version || null;
    async function tick(recovered) {
      const before = state.live.layers;
      try { await versions(); } catch (e) { away(e); return; /* try again at the next tick */ }
      recovered = recovered || state.live.away;
      back();
      if (units() !== listed || recovered) { listed = units(); fillGoto(); }
      const failed = failedSources(recovered);
      for (const w of watched) {
        if (w.now === w.version && !failed.has(w.id)) continue;
        w.version = w.now;
        state.live.reloads += 1;
        state.live.sources[w.id] = {version: w.now, reloads: state.live.sources[w.id].reloads + 1};
        if (w.id === "live") state.live.version = w.now;
        reload(w);
      }
      // the feature open in the info panel follows its layer too: a risk point raised, an
      // alarm cleared, a case dispatched while staff read it kept what it said when clicked
      const open = state.identified, code = $("info-code");
      if (open && before[open.collection] !== state.live.layers[open.collection] && code
          && code.textContent === open.code)
        showItem(open.collection, open.code, false, state.here).catch((err) => {
          // retired meanwhile: what was read stays, said to be gone
          if (err.status === 404 && !$("info-gone"))
            $("info-body").insertAdjacentHTML("afterbegin", '<p class="err" id="info-gone">此要素已不在现势数据中。</p>');
        });
    }
    // started after an outage (an earlier start failed): every tile asked again at once
    if (state.live.away || state.tileErrors.size) await tick(true);
    setInterval(() => tick(false), LIVE_S * 1000);
  }
  // the live layers' polling, started again and again while the server or its database is
  // away (a page opened during an outage never polled: it stayed blank until reloaded)
  async function keepLive() {
    for (let first = true; ; first = false) {
      try { await startLive(); return; } catch (e) {
        if (!outage(e)) return fail("实时图层", e);
        away(e);
      }
      if (first) state.ready = true;  // (the tests' sign: the first start was tried)
      await sleep(LIVE_S * 1000);
    }
  }

  // the server or its database away (no answer, or a 5xx): asked again; any other error is
  // the page's or the request's, said once
  const outage = (e) => e.network || e.status >= 500 || e.status === 408 || e.status === 429;
  // the tree, titles, fields and extent: fetched while the server is away (a page opened
  // during an outage kept an empty tree until reloaded), then built once
  async function setup() {
    let got = null;
    while (!got) {
      try {
        got = await Promise.all([
          getJSON(`${BASE}/map/tree.json`),
          getJSON(`${BASE}/tiles/WebMercatorQuad?f=tilejson`),
          // the page is Chinese whatever the browser's language: its titles too (an English
          // browser's Accept-Language gave "Buildings" beside 建筑物 in the layer tree)
          getJSON(`${BASE}/collections?f=json&lang=zh-CN`),
          getJSON(`${BASE}/map/fields.json`)]);
      } catch (e) {
        if (!outage(e)) return fail("加载", e);
        away(e);
        await sleep(LIVE_S * 1000);
      }
    }
    back();
    try {
      const [tree, tj, colls, fields] = got;
      for (const c of colls.collections || []) state.titles[c.id] = c.title;
      state.info = (map.getStyle().metadata || {})["cim:info"] || {};
      state.fields = fields;
      buildTree(tree);
      // the city's districts (the page's bounds), else where the tiles have features
      const city = window.CIM_MAP.bounds || (tj.bounds && [[tj.bounds[0], tj.bounds[1]], [tj.bounds[2], tj.bounds[3]]]);
      if (city) map.fitBounds(city, {padding: 20, duration: 0});
    } catch (e) { fail("加载", e); }
  }

  map.on("load", async () => {
    map.addSource("cim-highlight", {type: "geojson", data: {type: "FeatureCollection", features: []}});
    map.addSource("cim-draw", {type: "geojson", data: {type: "FeatureCollection", features: []}});
    map.addLayer({id: "cim-highlight-line", type: "line", source: "cim-highlight", paint: {"line-color": "#ff2d2d", "line-width": 3}});
    map.addLayer({id: "cim-highlight-point", type: "circle", source: "cim-highlight", filter: ["==", ["geometry-type"], "Point"],
      paint: {"circle-radius": 8, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": "#ff2d2d", "circle-stroke-width": 3}});
    map.addLayer({id: "cim-draw-fill", type: "fill", source: "cim-draw", filter: ["==", ["geometry-type"], "Polygon"], paint: {"fill-color": "#ffd24d", "fill-opacity": 0.2}});
    map.addLayer({id: "cim-draw-line", type: "line", source: "cim-draw", paint: {"line-color": "#d08000", "line-width": 2, "line-dasharray": [3, 2]}});
    await setup();
    fillGoto();
    await keepLive();
    state.ready = true;
  });
})();
