"""Tests against a real PostGIS and a real pygeoapi over HTTP."""
