// pygeoapi's HTML templates (services/webmap/pygeoapi_templates) call cimBasemap(url, options)
// where upstream builds `new L.TileLayer(url, options)`. Without a basemap URL (the default:
// CIM_BASEMAP_URL unset, an intranet without internet) the basemap is an empty layer, so the
// page makes no request outside the platform; it still gives the map the tile layer's maxZoom
// (Leaflet.markercluster refuses a map without one).
function cimBasemap(url, options) {
  if (url) return L.tileLayer(url, options);
  var empty = L.layerGroup();
  empty.onAdd = function (map) {
    if (!isFinite(map.getMaxZoom())) map.setMaxZoom((options && options.maxZoom) || 18);
  };
  return empty;
}
