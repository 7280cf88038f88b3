"""The sample area and the constants every part of the generator shares.

One place for the storage CRS, the area's frame, the seed and the pinned date: the districts,
buildings, pipes and components are all laid out relative to this frame, and every writer
pins the same date so reruns give byte-identical files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "jining"  # the committed sample set

STORAGE_CRS = "EPSG:4527"  # CGCS2000 / 3-degree GK zone 39 (false easting 39 500 000)
CENTER_LONLAT = (116.605, 35.355)  # near 太白湖新区, Jining
AREA_WIDTH = 8000.0  # metres, east-west
AREA_HEIGHT = 9000.0  # metres, north-south
CELL_SIZE = 500.0  # unit grid cell size, metres
SAMPLE_SEED = 20240630
N_SAMPLE_BUILDINGS = 1500
PINNED_DATE = "2024-06-30"  # DBF header date / GeoPackage timestamps (determinism)
GRID_SNAP = 0.001  # metres; precision grid for overlay operations

DISTRICTS = (
    ("370811", "任城区"),  # northern part
    ("370826", "微山县"),  # southern part
)


def area_frame() -> tuple[float, float, float, float]:
    """Return (x0, y0, x1, y1) of the sample area in EPSG:4527 (500 m aligned)."""
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", STORAGE_CRS, always_xy=True)
    e, n = tr.transform(*CENTER_LONLAT)
    x0 = round((e - AREA_WIDTH / 2) / CELL_SIZE) * CELL_SIZE
    y0 = round((n - AREA_HEIGHT / 2) / CELL_SIZE) * CELL_SIZE
    return float(x0), float(y0), float(x0 + AREA_WIDTH), float(y0 + AREA_HEIGHT)


def rotation(deg: float) -> np.ndarray:
    """2 × 2 matrix rotating (u, v) street-grid coordinates by ``deg`` degrees."""
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
