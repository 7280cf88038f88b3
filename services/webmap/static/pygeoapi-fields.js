// pygeoapi's item and items pages (services/webmap/pygeoapi_templates) name the attributes by
// their columns (use_name, diameter_mm): each cell marked data-field is renamed to the
// attribute's Chinese name from /map/fields.json (as the web map's feature info and QGIS's
// field aliases), the column name kept in its tooltip. Without the names the page is as it was.
function cimFieldNames(base) {
  var m = location.pathname.match(/\/collections\/([^/]+)\/(items|queryables)(\/|$)/);
  if (!m || !window.fetch) return;
  fetch(base + "/map/fields.json", {headers: {Accept: "application/json"}})
    .then(function (r) { return r.ok ? r.json() : {}; })
    .then(function (all) {
      var names = all[decodeURIComponent(m[1])] || {};
      document.querySelectorAll("[data-field]").forEach(function (el) {
        var zh = names[el.getAttribute("data-field")];
        if (zh) { el.title = el.getAttribute("data-field"); el.textContent = zh; }
      });
    })
    .catch(function () { /* the names are a convenience: the columns stay */ });
}
