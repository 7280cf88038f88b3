"""The one-map QGIS project: written as .qgs XML (no QGIS needed) and saved in the database."""
