"""The one-map query library (一张图): questions asked of all layers at once.

Every query is set-based SQL in PostGIS over current features, identifiers quoted by
:mod:`layers.query.common`, values bound. The same functions back the ``cim query`` commands
and the OGC API processes, so the CLI and HTTP give one answer.
"""
