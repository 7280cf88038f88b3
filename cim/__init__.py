"""CIM platform core: configuration, database, layer declarations, unified coding, CRS, CLI."""

__version__ = "0.1.0"
