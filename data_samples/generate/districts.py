"""The two SYNTHETIC districts, the unit grid clipped to them, and the city profile.

The districts share one wavy boundary (so a straight-line split assigns buildings wrongly and
a real spatial join is needed); the grid cells tile each district exactly, which the loaders'
district/grid joins rely on.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
import shapely.affinity
import shapely.ops
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from data_samples.generate.frame import CELL_SIZE, GRID_SNAP

PROFILE_YAML = """\
# City profile: the city, its storage CRS, its districts and where boundaries/grid/dictionaries live.
city:
  name: 济宁市
  admin_code: "370800"
storage_crs: EPSG:4527        # CGCS2000 / 3-degree Gauss-Kruger zone 39 (zone-prefixed eastings)
districts:
  - {code: "370811", name: 任城区}
  - {code: "370826", name: 微山县}
boundaries: boundaries.gpkg   # layer "districts": code, name, geometry (relative to this file)
grid: grid_cells.gpkg         # layer "grid_cells": code (15 digits), name, district_code, geometry
dictionaries: {}              # per-city overrides of cim/dictionaries/*.csv, by dictionary name
"""


def _with_grid_nodes(line, x0, y0):
    """Insert the crossings of ``line`` with the 500 m grid lines as vertices.

    The crossing is rounded to 1 mm on the free axis, so clipping the grid cells with
    the districts only ever meets existing vertices and the cells tile each district
    exactly (no computed intersection points that differ between neighbours).
    """
    out = [tuple(line[0])]
    for (px, py), (qx, qy) in zip(line[:-1], line[1:]):
        nodes = []
        for lo, hi, origin, axis in ((px, qx, x0, 0), (py, qy, y0, 1)):
            a, b = min(lo, hi), max(lo, hi)
            k = math.floor((a - origin) / CELL_SIZE) + 1
            while origin + k * CELL_SIZE < b:
                g = origin + k * CELL_SIZE
                t = (g - lo) / (hi - lo)
                if axis == 0:
                    nodes.append((t, (g, round(py + t * (qy - py), 3))))
                else:
                    nodes.append((t, (round(px + t * (qx - px), 3), g)))
                k += 1
        for _, p in sorted(nodes):
            if p != out[-1]:
                out.append(p)
        if (qx, qy) != out[-1]:
            out.append((float(qx), float(qy)))
    return np.array(out)


def make_districts(frame, rng):
    """Two non-overlapping district polygons sharing an irregular boundary.

    Returns (north_polygon, south_polygon, divide_coords).
    """
    x0, y0, x1, y1 = frame
    n = 41  # vertices along the divide (about 200 m apart)
    xs = np.linspace(x0, x1, n)
    xs[1:-1] += rng.uniform(-60.0, 60.0, n - 2)
    t = (xs - x0) / (x1 - x0)
    base = y0 + 4100.0
    wave = (
        260.0 * np.sin(2 * math.pi * (1.3 * t + 0.15))
        + 120.0 * np.sin(2 * math.pi * (3.7 * t + 0.6))
    )
    noise = np.convolve(rng.normal(0.0, 45.0, n + 4), np.ones(5) / 5.0, mode="valid")
    ys = base + wave + noise
    line = np.round(np.column_stack([xs, ys]), 2)
    line[0, 0], line[-1, 0] = x0, x1
    line = _with_grid_nodes(line, x0, y0)

    north = Polygon([(x0, y1)] + [tuple(p) for p in line] + [(x1, y1)])
    south = Polygon([(x0, y0), (x1, y0)] + [tuple(p) for p in line[::-1]])
    north, south = orient(north), orient(south)
    assert north.is_valid and south.is_valid
    return north, south, line


def make_grid_cells(districts):
    """Clip a 500 m lattice to each district; merge slivers; assign 15-digit codes.

    ``districts`` is a list of (code, name, polygon). Returns a list of dict rows.
    """
    rows = []
    minx = min(p.bounds[0] for _, _, p in districts)
    maxy = max(p.bounds[3] for _, _, p in districts)
    sliver = 0.1 * CELL_SIZE * CELL_SIZE
    n_streets = {"370811": 3, "370826": 2}
    for code, name, poly in districts:
        bx0, by0, bx1, by1 = poly.bounds
        c0 = int(math.floor((bx0 - minx) / CELL_SIZE + 1e-9))
        c1 = int(math.ceil((bx1 - minx) / CELL_SIZE - 1e-9))
        r0 = int(math.floor((maxy - by1) / CELL_SIZE + 1e-9))
        r1 = int(math.ceil((maxy - by0) / CELL_SIZE - 1e-9))
        pieces = []  # [geometry, col, row]
        for r in range(r0, r1):
            for c in range(c0, c1):
                cx0 = minx + c * CELL_SIZE
                cy1 = maxy - r * CELL_SIZE
                cell = shapely.box(cx0, cy1 - CELL_SIZE, cx0 + CELL_SIZE, cy1)
                inter = shapely.intersection(cell, poly, grid_size=GRID_SNAP)
                for part in shapely.get_parts(inter):
                    if part.geom_type == "Polygon" and part.area > 0:
                        pieces.append([part, c, r])
        # merge slivers into the neighbour with the longest shared border
        while True:
            small = [i for i, p in enumerate(pieces) if p[0].area < sliver]
            if not small:
                break
            i = min(small, key=lambda k: (pieces[k][0].area, pieces[k][2], pieces[k][1]))
            g = pieces[i][0]
            best, best_len = None, 0.0
            for j, q in enumerate(pieces):
                if j == i or not g.intersects(q[0]):
                    continue
                shared = shapely.intersection(g.boundary, q[0].boundary, grid_size=GRID_SNAP).length
                if shared > best_len + 1e-9:
                    best, best_len = j, shared
            if best is None:  # isolated sliver: keep it as its own cell
                sliver_keep = pieces.pop(i)
                sliver_keep[0] = shapely.set_precision(sliver_keep[0], GRID_SNAP)
                pieces.append(sliver_keep)
                sliver = min(sliver, sliver_keep[0].area)  # avoid infinite loop
                continue
            merged = shapely.union(pieces[best][0], g, grid_size=GRID_SNAP)
            pieces[best][0] = merged
            pieces.pop(i)

        # streets: bands of columns (west -> east); communities: bands of rows (north -> south)
        cols = sorted({p[1] for p in pieces})
        street_of_col = {}
        for s, band in enumerate(np.array_split(np.array(cols), n_streets[code]), start=1):
            for c in band:
                street_of_col[int(c)] = s
        rws = sorted({p[2] for p in pieces})
        comm_of_row = {}
        for k, band in enumerate(np.array_split(np.array(rws), 3), start=1):
            for r in band:
                comm_of_row[int(r)] = k
        pieces.sort(key=lambda p: (street_of_col[p[1]], comm_of_row[p[2]], p[2], p[1]))
        serial = {}
        for geom, c, r in pieces:
            s, k = street_of_col[c], comm_of_row[r]
            serial[(s, k)] = serial.get((s, k), 0) + 1
            n = serial[(s, k)]
            rows.append(
                {
                    "code": f"{code}{s:03d}{k:03d}{n:03d}",
                    "name": f"{name}第{s:03d}街道第{k:03d}社区网格{n:03d}",
                    "district_code": code,
                    "geometry": geom,
                }
            )
    return rows
