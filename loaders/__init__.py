"""Loaders turn survey files into rows of PostGIS layers: read, validate, code, bulk-write."""
