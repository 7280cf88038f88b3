"""Where deliveries come from: byte prechecks, GDAL sources in batches, survey tables."""
