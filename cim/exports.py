"""What a rejects export (``cim rejects --export``, layers.rejects) tells the loader that reads
it back (loaders.sources.xy_table): a census read from X/Y columns reloads from its X/Y as
fixed. A CSV export of such a batch says it by holding X/Y and no ``wkt``; a GeoPackage's
layer keeps its points for the map and says it in its description."""

from __future__ import annotations

# gpkg_contents.description of a GeoPackage export's layer whose rows' place is their X/Y
XY_EXPORT_MARK = "cim rejects export: points from X/Y"
