"""Reading the layers: catalog, feature look-ups, (later) the one-map query library."""
