"""A survey's X/Y (X = northing, Y = easting, :func:`cim.crs.swap_survey_xy`) → the storage
CRS: the Gauss-Krüger zone read from the eastings' prefix unless ``--crs`` names it, exchanged
columns and mixed zones refused naming the tables, rows and column.
"""

from __future__ import annotations

import numpy as np

from cim import crs as cimcrs
from cim.errors import InputError
from cim.profile import CityProfile
from loaders.pipes.records import Delivery, PointRec, column_name


def survey_coordinates(d: Delivery, profile: CityProfile, crs_opt: str | None) -> None:
    """X/Y of the survey (X northing, Y easting) → storage-CRS easting/northing."""
    srid = profile.srid
    ok = [p for p in d.points if p.x is not None and p.y is not None]
    xs = np.array([p.x for p in ok], dtype=float)
    ys = np.array([p.y for p in ok], dtype=float)
    e, n = cimcrs.swap_survey_xy(xs, ys)
    if crs_opt:
        crs = cimcrs.parse_crs(crs_opt)
    else:
        try:
            code = cimcrs.detect_gk_from_eastings(e, srid) if e.size else None
        except InputError as exc:  # zones mixed: the rows of the other zones named
            raise other_zones(exc, ok, e, d.columns) from None
        if code is None and e.size and cimcrs.detect_gk_from_eastings(n, srid) is not None:
            raise InputError("the X column holds eastings and Y northings: survey tables write "
                             "X = northing (北) and Y = easting (东); the columns look exchanged — "
                             "map them with --mapping (x: <northing column>, y: <easting column>)",
                             path=", ".join(sorted({p.table for p in ok})),
                             field=column_name(d.columns, ok[0], "x"))  # (as delivered: X坐标)
        if code is None:
            crs = cimcrs.parse_crs(f"EPSG:{srid}")
            d.notes.append(f"coordinates taken to be in the storage CRS EPSG:{srid} (no "
                           "Gauss-Krüger zone prefix found; pass --crs otherwise)")
        else:
            crs = cimcrs.parse_crs(f"EPSG:{code}")
            d.notes.append(f"coordinates: EPSG:{code} detected from the easting magnitudes")
    if e.size:
        problem = cimcrs.check_gk_consistency(crs, e)
        if problem:
            raise InputError(problem, path=", ".join(sorted({p.table for p in ok})))
    epsg = cimcrs.epsg_of(crs)
    d.source_crs = cimcrs.crs_text(crs)  # the CRS its rejects are kept in
    d.source_srid = epsg
    to_storage = cimcrs.to_storage(crs, srid, ", ".join(sorted({p.table for p in ok})))
    if to_storage is not None and e.size:
        e, n = to_storage.transform(e, n)
    for p, ee, nn in zip(ok, e, n):
        if np.isfinite(ee) and np.isfinite(nn):
            p.e, p.n = float(ee), float(nn)
        else:
            p.problems.append(("bad_value", "X/Y", [p.x, p.y],
                               "cannot be transformed to the storage CRS (wrong --crs?)"))


def other_zones(exc: InputError, ok: list[PointRec], e: np.ndarray,
                 columns: dict[str, dict[str, str]]) -> InputError:
    """The error of eastings whose zone prefixes differ, naming the tables, rows and column of
    the zones fewer rows have (a prefix mistyped in one row: the surveyor was told "correct
    the rows of the other zone" and not which)."""
    zone = cimcrs.gk_zones_of_eastings(e)
    zones, counts = np.unique(zone[zone > 0], return_counts=True)
    main = int(zones[np.argmax(counts)])
    other = [(p, z) for p, z in zip(ok, zone.tolist()) if z not in (0, main)]
    if not other:
        return exc
    shown = ", ".join(f"{p.table} row {p.row} (zone {z})" for p, z in other[:10])
    more = f" and {len(other) - 10} more" if len(other) > 10 else ""
    first = other[0][0]
    return InputError(f"{exc.message}; the rows of zones other than {main}: {shown}{more}",
                      path=", ".join(sorted({p.table for p, _ in other})),
                      row=first.row if len(other) == 1 else None,
                      field=column_name(columns, first, "y"))
