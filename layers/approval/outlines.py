"""A proposed project's outlines: polygons read from what a GIS or CAD file holds, and its CRS.

A closed polyline is a polygon. An invalid polygon is read as its valid outline only where
that keeps the area it was drawn with; an outline crossing itself is an input problem. A site
given in parts is one site, seams a CAD drawing left between them closed (up to twice the
rules file's ``site_seam_m``: 1 cm). A building outline drawn twice (a CAD hatch over the
outline, a copy pasted in place) is read once, named in the notes; two copies whose
attributes disagree are an input problem.
"""

from __future__ import annotations

import numpy as np
import pyproj
import shapely
from shapely.geometry import Polygon

from cim.crs import (
    SAME_PLACE_M,
    ballpark_refusal,
    crs_label,
    detect_gk_from_eastings,
    extent_points,
    parse_crs,
    places_apart,
)
from cim.errors import InputError
from layers.approval.attributes import Problems

MIN_AREA_M2 = 0.01


def polygonal(g: shapely.Geometry, why: list[str] | None = None,
               repairs: list[str] | None = None) -> shapely.Geometry | None:
    """The polygon(s) of ``g`` in 2D; a closed line is its polygon; None if not areal, or
    an invalid polygon whose repair would change its area (the reason appended to ``why``;
    one repaired keeping it is said in ``repairs``: :func:`_repaired`)."""
    if g is None or g.is_empty:
        return None
    g = shapely.force_2d(g)
    if g.geom_type in ("LineString", "LinearRing") and len(g.coords) >= 4 and \
            g.coords[0] == g.coords[-1]:
        g = Polygon(g.coords)
    if g.geom_type == "MultiLineString" and all(
            len(p.coords) >= 4 and p.coords[0] == p.coords[-1] for p in g.geoms):
        g = shapely.union_all([Polygon(p.coords) for p in g.geoms])
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    if not g.is_valid:
        reason = shapely.is_valid_reason(g)
        g = _repaired(g, why if why is not None else [])
        if g is not None and repairs is not None:
            repairs.append(f"the polygon is not valid ({reason}), read as its valid outline "
                           f"of the same area ({g.area:,.2f} m²)")
    return g


def _areal(g: shapely.Geometry) -> shapely.Geometry:
    return shapely.union_all([p for p in getattr(g, "geoms", [g])
                              if p.geom_type in ("Polygon", "MultiPolygon")])


def _repaired(g: shapely.Geometry, why: list[str]) -> shapely.Geometry | None:
    """An invalid polygon made valid where that keeps the area it was drawn with — a spike
    or a ring touching itself (CAD), parts of one feature overlapping (covered once, as the
    site's features are) —, else None and the reason in ``why``: an outline crossing itself
    (a bowtie, two corners swapped) encloses as drawn another area than repaired (0 m² and
    300 m² for a 20 × 30 m bowtie), and the FAR and density would be of an area nobody
    drew. Checked part by part (each part's area as drawn, by its rings)."""
    parts = list(getattr(g, "geoms", [g]))
    fixed = []
    for part in parts:
        if part.is_valid:
            fixed.append(part)
            continue
        f = _areal(shapely.make_valid(part))
        drawn = part.area  # the rings' own (shoelace) area, holes taken off
        if abs(f.area - drawn) > MIN_AREA_M2:
            why.append(f"the polygon is not valid ({shapely.is_valid_reason(part)}): its "
                       f"outline crosses itself, enclosing {drawn:,.2f} m² as drawn and "
                       f"{f.area:,.2f} m² as repaired; redraw it")
            return None
        fixed.append(f)
    return shapely.union_all(fixed)


def resolve_crs(records: list[dict], crs: str | pyproj.CRS | None, storage_srid: int,
                source: str) -> pyproj.CRS:
    """``crs`` (--crs or the file's), else detected from the coordinates like the loaders
    do: zone-prefixed or six-digit Gauss-Krüger eastings, or degrees (CRS84)."""
    if crs is not None:
        return crs if isinstance(crs, pyproj.CRS) else parse_crs(crs)
    xs = np.concatenate([shapely.get_coordinates(r["geometry"])[:, 0] for r in records
                         if r["geometry"] is not None] or [np.empty(0)])
    ys = np.concatenate([shapely.get_coordinates(r["geometry"])[:, 1] for r in records
                         if r["geometry"] is not None] or [np.empty(0)])
    epsg = detect_gk_from_eastings(xs, storage_srid)
    if epsg is not None:
        return parse_crs(epsg)
    if xs.size and np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90):
        # lon/lat (RFC 7946): named EPSG:4326 as GDAL names a GeoJSON file's CRS, so a posted
        # project says what `cim check` says of the same file (transforms are easting first)
        return parse_crs("EPSG:4326")
    raise InputError("the project has no coordinate reference system and none can be "
                     "detected from its coordinates; pass --crs EPSG:n", path=source)



def refuse_reinterpreted(declared: dict[str, pyproj.CRS], given: pyproj.CRS,
                         records: list[dict], storage_srid: int, source: str,
                         given_by: str = "--crs") -> None:
    """Refuse a CRS given for coordinates whose layers declare another one (``declared``:
    layer → the CRS it declares), naming each layer and both CRSs.

    Approval staff do not reinterpret an applicant's declared coordinates: read in another
    CRS they move (EPSG:32650 read as EPSG:4548, both on 117°E, lands 1.5 km north, inside
    the city, checked against another parcel without a word). A declared CRS that puts the
    coordinates where the given one does — the same CRS spelt otherwise (an ESRI .prj,
    CRS84 and EPSG:4326, WGS 84 and CGCS2000 lon/lat) — is no reinterpretation: told by
    where both put the layer's corners and centre in the storage CRS (within
    :data:`cim.crs.SAME_PLACE_M`: :func:`cim.crs.places_apart`, the test the reading of a
    project's layers makes too). A layer declaring no CRS takes the given one."""
    probs = Problems(source)
    for layer, crs in declared.items():
        xy = extent_points([r["geometry"] for r in records if r["layer"] == layer]
                           or [r["geometry"] for r in records])
        apart = places_apart(crs, given, xy, storage_srid)
        if apart is not None and apart <= SAME_PLACE_M:
            continue
        where = ("read so, its coordinates would lie " + (
            f"{apart:,.1f} m" if apart < 10_000 else f"{apart / 1000:,.0f} km")
            + " from where the CRS it declares puts them" if apart is not None else
            "its coordinates cannot be read in the CRS given")
        probs.add(f"the layer declares {crs_label(crs)}, {given_by} gives "
                  f"{crs_label(given)}: {where}. Leave out {given_by} to check it in its own "
                  "CRS; if the declared CRS is wrong, correct it in the file (QGIS: Layer → "
                  "Set CRS, then Export; ogr2ogr -a_srs EPSG:n)", layer)
    probs.raise_if_any()



def refuse_ballpark(src: pyproj.CRS, storage_srid: int, tx: pyproj.Transformer,
                     source: str) -> None:
    """A project whose datum PROJ can reach from the storage's by a ballpark only (Xian 1980,
    Beijing 1954 to CGCS2000) is refused (:func:`cim.crs.ballpark_refusal`): every setback
    and clearance would be measured on a drawing shifted by an unknown amount, and the check
    would pass or fail it as if exact."""
    why = ballpark_refusal(src, parse_crs(storage_srid), tx, "the project")
    if why is not None:
        raise InputError(why, path=source)


def one_site(sites: list[shapely.Geometry], seam_m: float) -> shapely.Geometry:
    """The site's parts as one, seams narrower than 2 × ``seam_m`` (the rules file's
    ``site_seam_m``) closed (a morphological closing, added to the parts: nothing of them is
    lost)."""
    site = shapely.union_all(sites)
    if len(sites) < 2 or seam_m <= 0:
        return site
    closed = site.buffer(seam_m, join_style="mitre").buffer(-seam_m, join_style="mitre")
    return shapely.union_all([site, closed])


def one_outline_each(buildings: list[tuple], probs: Problems
                      ) -> tuple[list[tuple], list[str]]:
    """The buildings with an outline drawn twice read once — a CAD drawing hatches its
    buildings (the HATCH is a second polygon of the outline), a copy pasted in place —, and
    notes saying so: the copy without attributes goes, else the second (two copies whose
    attributes disagree are a problem naming both). Two buildings never share an outline;
    read twice, one is spaced 0 m from itself and counted twice in the floor area."""
    keep: list[tuple] = []
    notes: list[str] = []
    kept_at: dict[int, int] = {}  # index in buildings → index in keep
    tree = shapely.STRtree([b[0] for b in buildings])
    for n, b in enumerate(buildings):
        poly, attrs, rec = b
        k = next((kept_at[j] for j in sorted(tree.query(poly).tolist()) if j in kept_at and
                  keep[kept_at[j]][0].symmetric_difference(poly).area <= MIN_AREA_M2), None)
        if k is None:
            kept_at[n] = len(keep)
            keep.append(b)
            continue
        first = keep[k]
        mine = {f: str(v).strip() for f, (_, v) in attrs.items()}
        theirs = {f: str(v).strip() for f, (_, v) in first[1].items()}
        if mine and theirs and mine != theirs:
            probs.add(f"the same outline as feature {first[2]['row']} of layer "
                      f"{first[2]['layer']!r}, with other attributes ({theirs} and {mine}): "
                      "draw a building once", rec["layer"], rec["row"], "geometry")
            continue
        if mine and not theirs:
            keep[k], first, b = b, b, first
        notes.append(f"{b[2]['layer']} feature {b[2]['row']}: the same outline as "
                     f"{first[2]['layer']} feature {first[2]['row']} (a hatch or a copy "
                     "drawn in place), read once")
    return keep, notes

