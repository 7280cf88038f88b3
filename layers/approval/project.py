"""A proposed project as the approval check sees it, parsed and validated from plain features.

The features come from a project file (read by ``loaders.project``: GeoPackage, GeoJSON or DXF)
or from the GeoJSON of the ``approval-check`` process; each is ``{"layer", "row",
"properties", "geometry"}`` (shapely, in the source CRS). Its role is its ``role`` property
(site | building | demolish | green, or 用地红线 | 建筑 | 拆除 | 绿地) or else its layer's name by
convention (``cim/dictionaries/approval_names.yaml``: :func:`layers.approval.attributes.names_of`); attributes are read by Chinese or
English names, or from a DXF's labels inside an outline (:mod:`layers.approval.attributes`);
outlines, the CRS and the site's parts by :mod:`layers.approval.outlines`.

Every problem is collected before anything is checked (nothing half-checked): one
:class:`InputError` lists them all, each naming the file, layer, feature (row) and field.
Counted floor area (计容建筑面积) is the given one, else floors above ground × footprint area.
A building with no floor above ground (地上层数 0) is underground: it covers no ground and
keeps no spacing. One so given that is taller than a storey (``field_units.yaml``
``min_storey_height_m``, 2.2 m: 地上层数 0 and 建筑高度 54) is an input problem naming both
fields — which of the two is wrong decides whether the spacing and density rules count it —,
never skipped by them as underground. So is a height lower than the storeys above ground can be
(30 storeys at 10 m: below storeys × ``min_storey_height_m``): the storeys make the FAR, the
height the height limits and the spacing, and a typo in either passed rules it should not.
A counted floor area of 0 on a building standing above ground (what a Shapefile written by
ArcGIS holds for a number left empty) is one too: it added nothing to the FAR.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
import shapely
import shapely.geometry

from cim.crs import crs_label, epsg_of, lonlat_srid, parse_crs, transformer
from cim.errors import InputError
from cim.profile import CityProfile, merged_number
from cim.text import norm_name
from layers.approval.attributes import (
    NUMERIC,
    ROLES,
    Problems,
    attrs_of,
    comparable,
    label_of,
    merge_labels,
    names_of,
    no_role,
    note_unread_fields,
    read_value,
    text_attrs,
)
from layers.approval.config import Config, load_config
from layers.approval.outlines import (
    MIN_AREA_M2,
    one_outline_each,
    one_site,
    polygonal,
    refuse_ballpark,
    refuse_reinterpreted,
    resolve_crs,
)
from layers.approval.units import Units

# a polygon ring that was not closed (a GeoJSON or WKT written by hand), read closed as GDAL
# and shapely read it: said in the notes, from a file and from the process alike
RING_CLOSED = "a polygon ring is not closed (its last point is not its first): read closed"


@dataclass
class Building:
    label: str  # name, else "layer row N"
    layer: str
    row: int
    footprint: shapely.Geometry  # storage CRS
    floors_above: int | None = None
    floors_below: int | None = None
    height: float | None = None
    use: str | None = None
    counted_area_given: float | None = None
    ground_elevation: float | None = None

    @property
    def underground(self) -> bool:
        """No floor above ground (地上层数 0: a 地下车库 outline): no ground covered, no
        spacing to keep. (地上层数 0 on a building taller than a storey is refused when the
        project is read: :func:`_building`.)"""
        return self.floors_above == 0

    @property
    def counted_area(self) -> float | None:
        """计容建筑面积: as given, else floors above ground × footprint (None: unknown)."""
        if self.counted_area_given is not None:
            return self.counted_area_given
        if self.floors_above is not None:
            return self.floors_above * self.footprint.area
        return None


@dataclass
class Demolish:
    label: str
    layer: str
    row: int
    outline: shapely.Geometry
    code: str | None = None


@dataclass
class Project:
    name: str
    source: str
    source_crs: str
    site: shapely.Geometry
    buildings: list[Building]
    demolish: list[Demolish] = field(default_factory=list)
    green: list[shapely.Geometry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def green_union(self) -> shapely.Geometry:
        return shapely.union_all(self.green) if self.green else shapely.Polygon()

    def as_geojson(self, srid: int) -> dict[str, Any]:
        """The project as checked: a FeatureCollection in the storage CRS ``srid`` (its
        ``crs`` member names it; x/y, easting first), each feature with its role and the
        attributes read — what the approval-check process takes, so a filed check can be run
        again as it was (the record kept the site and attributes only)."""
        def feature(role: str, g: shapely.Geometry, props: dict[str, Any]) -> dict[str, Any]:
            return {"type": "Feature", "geometry": shapely.geometry.mapping(g),
                    "properties": {"role": role,
                                   **{k: v for k, v in props.items() if v is not None}}}

        feats = [feature("site", self.site, {})]
        feats += [feature("building", b.footprint, {
            "name": b.label, "floors_above": b.floors_above, "floors_below": b.floors_below,
            "height": b.height, "use": b.use, "counted_area": b.counted_area_given,
            "ground_elevation": b.ground_elevation}) for b in self.buildings]
        feats += [feature("demolish", d.outline, {"name": d.label, "code": d.code})
                  for d in self.demolish]
        feats += [feature("green", g, {}) for g in self.green]
        return {"type": "FeatureCollection", "name": self.name,
                "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}},
                "features": json.loads(json.dumps(feats))}  # (tuples as lists)



def project_name(name: str | None, what: str = "the project name",
                 field: str = "name") -> str | None:
    """A name as filed (``what``: the project's, an operator's), stripped; an InputError
    naming ``field`` for one of only blanks or holding a control character (a line break in a
    name printed a forged line in `cim checks`, another check's id, time and status)."""
    if name is None:
        return None
    bad = [c for c in name if unicodedata.category(c) in ("Cc", "Zl", "Zp")]
    if bad:
        raise InputError(f"{what} {name!r} holds a control character "
                         f"({', '.join(sorted({f'U+{ord(c):04X}' for c in bad}))}): one line "
                         "of text", field=field)
    if not name.strip():
        raise InputError(f"{what} is blank", field=field)
    return name.strip()


def build_project(records: list[dict], *, source: str, name: str | None,
                  crs: str | pyproj.CRS | None, storage_srid: int,
                  profile: CityProfile | None = None, config: Config | None = None,
                  declared: dict[str, pyproj.CRS] | None = None) -> Project:
    """Validate the features and return the project in the storage CRS (see module doc);
    header units by ``profile``'s ``field_units`` (else the configured profile's), the site's
    seams by ``config`` (the rules file; else the profile's). ``declared``: the CRS each layer
    of the file declares where ``crs`` was given over them (--crs): one that would put the
    coordinates elsewhere is refused (:func:`layers.approval.outlines.refuse_reinterpreted`)."""
    from layers.query.pipes import resolve_profile

    name = project_name(name)
    prof = resolve_profile(profile)
    cfg = config or load_config(prof)
    units = Units.of(prof)
    # a building taller than a storey has a floor above ground (field_units.yaml, the city's
    # value over the platform's: the loaders read 地上层数 0 on one so as unknown)
    min_storey = merged_number(prof.yaml_dictionary("field_units", "the field units")
                               if prof is not None else {}, "min_storey_height_m")
    probs = Problems(source)
    names = names_of(prof)  # the layers' and fields' names (approval_names.yaml, the city's)
    src_crs = resolve_crs(records, crs, storage_srid, source)
    # a CRS told from the coordinates' size is a guess, said: six-digit eastings of a city's
    # own grid (独立坐标系) read in the storage zone land kilometres away, checked elsewhere
    skipped = [] if crs is not None or not src_crs.is_projected else [
        f"no layer declares a CRS and none was given: {crs_label(src_crs)} assumed from the "
        "coordinates' size; if the drawing uses another grid (a city's own 独立坐标系), pass "
        "--crs (the process's crs input)"]
    if declared and crs is not None:
        refuse_reinterpreted(declared, src_crs, records, storage_srid, source)
    src_epsg = epsg_of(src_crs)
    same = src_epsg == storage_srid
    # an EPSG code, not WKT: PROJ finds the operation for a code much faster
    tx = None if same else transformer(f"EPSG:{src_epsg}" if src_epsg else src_crs.to_wkt(),
                                       f"EPSG:{storage_srid}")
    if tx is not None:
        refuse_ballpark(src_crs, storage_srid, tx, source)
    to_lonlat = transformer(storage_srid, lonlat_srid(storage_srid))  # see result.crs84
    area_of_use = parse_crs(storage_srid).area_of_use
    sites, buildings, demolish, green, texts = [], [], [], [], []
    repairs: list[str] = []  # invalid polygons read as their valid outline: noted
    unread_fields: dict[str, dict[str, None]] = {}  # layer → fields of no attribute, given
    roleless: dict[str, list[int]] = {}  # layer → rows of features without a role
    # (and, in skipped, entities GDAL does not read on layers of no role: noted)
    for rec in records:
        if rec.get("unread_entity") is not None:  # loaders.dxf_entities: GDAL skipped it
            u = rec["unread_entity"]
            what = (f"a {u.type} entity (handle {u.handle or '?'}"
                    + (f", in block {u.block!r}" if u.block else "") + ")")
            if names.role_of.get(norm_name(rec["layer"])) is None:  # an underlay, a frame
                skipped.append(f"layer {rec['layer']!r}: {what} is not read (GDAL reads none; "
                               "the layer has no role)")
            else:  # a tower modelled in 3D, left out, passed the FAR without it
                probs.add(f"{what} cannot be read: GDAL reads no 3D solid, region, surface "
                          "or mesh (nor images or proxies); draw its outline as a closed "
                          "polyline on the layer (AutoCAD: FLATSHOT, or EXPLODE it), or "
                          "remove it from the drawing", rec["layer"])
            continue
        note_unread_fields(rec, unread_fields, names)
        again: list[tuple[str, str, Any]] = []
        attrs, text = attrs_of(rec["properties"], again, names)
        for f, k, v in again:  # 层数 20 and 地上层数 18: which one holds is not ours to pick
            if f in NUMERIC and comparable(f, k, v, units) != comparable(
                    f, attrs[f][0], attrs[f][1], units):
                probs.add(f"fields {attrs[f][0]!r} ({attrs[f][1]!r}) and {k!r} ({v!r}) both "
                          f"give {f} and disagree (give one)", rec["layer"], rec["row"], k)
        role_src = attrs.get("role")
        role = names.role_of.get(norm_name(role_src[1])) if role_src else \
            names.role_of.get(norm_name(rec["layer"]))
        if role is None:
            if role_src:
                probs.add(f"role {role_src[1]!r} is not one of {', '.join(ROLES)} "
                          "(or 用地红线, 建筑, 拆除, 绿地)", rec["layer"], rec["row"], role_src[0])
            else:  # said once a layer: a CAD plan's furniture (图框, 标注) is many entities
                roleless.setdefault(str(rec["layer"]), []).append(rec["row"])
            continue
        g = rec["geometry"]
        if g is not None and not g.is_empty:
            c = shapely.get_coordinates(g)
            if not np.all(np.isfinite(c)):
                probs.add("coordinates are not finite numbers", rec["layer"], rec["row"],
                          "geometry")
                continue
            if tx is not None:
                g = shapely.transform(g, lambda xy: np.column_stack(tx.transform(xy[:, 0],
                                                                                 xy[:, 1])))
            lon, lat = to_lonlat.transform(*shapely.get_coordinates(g).mean(axis=0))
            if not (np.isfinite(lon) and np.isfinite(lat)):
                # beyond the CRS's own domain (39,500,000 m eastings read without the zone
                # prefix): PROJ gives inf, which said "at inf, inf"
                probs.add(f"its coordinates cannot be placed in CRS {src_crs.name} (outside "
                          "its domain): wrong --crs, or X/Y swapped?", rec["layer"],
                          rec["row"], "geometry")
                continue
            if area_of_use and not (area_of_use.west - 1 <= lon <= area_of_use.east + 1
                                    and area_of_use.south - 1 <= lat <= area_of_use.north + 1):
                probs.add(f"lies outside the city's storage CRS area (at {lon:.4f}, {lat:.4f}; "
                          f"CRS {src_crs.name}): wrong --crs, or X/Y swapped?", rec["layer"],
                          rec["row"], "geometry")
                continue
        if role == "building" and text and g is not None and g.geom_type == "Point":
            texts.append((g, text, rec))
            continue
        invalid: list[str] = []
        fixed: list[str] = [RING_CLOSED] if rec.get("ring_closed") else []
        poly = polygonal(g, invalid, fixed)
        if invalid:
            probs.add(invalid[0], rec["layer"], rec["row"], "geometry")
            continue
        repairs.extend(f"{rec['layer']} feature {rec['row']}: {n}" for n in fixed)
        if rec.get("curved"):  # its arcs as GDAL's chords: areas and distances a little short
            repairs.append(f"{rec['layer']} feature {rec['row']}: curves (arcs) straightened "
                           "by GDAL in 4° steps (curve_linearized)")
        if poly is None or poly.is_empty:
            if g is not None and g.geom_type in ("Polygon", "MultiPolygon") and \
                    not g.is_empty:  # a ring collapsed to a line, its points on one line
                probs.add(f"the polygon encloses no area ({shapely.is_valid_reason(g)}); "
                          f"a {role} needs its outline", rec["layer"], rec["row"], "geometry")
                continue
            what = "empty" if g is None or g.is_empty else f"a {g.geom_type}"
            probs.add(f"the geometry is {what}; a {role} needs a polygon (or a closed "
                      "polyline)", rec["layer"], rec["row"], "geometry")
            continue
        if poly.area < MIN_AREA_M2:
            probs.add(f"the polygon's area {poly.area:.4f} m² is below {MIN_AREA_M2} m²",
                      rec["layer"], rec["row"], "geometry")
            continue
        if role == "site":
            sites.append(poly)
        elif role == "green":
            green.append(poly)
        elif role == "demolish":
            code = attrs.get("code")
            demolish.append(Demolish(label_of(attrs, rec), rec["layer"], rec["row"], poly,
                                     str(code[1]).strip() if code else None))
        else:
            buildings.append((poly, attrs, rec))
    no_role(roleless, probs)
    buildings, twins = one_outline_each(buildings, probs)
    labels: dict[int, list[tuple[str, str, str, dict, str]]] = {}  # building → its labels' values
    unread: list[tuple[int, dict, str]] = []
    outlines = shapely.STRtree([b[0] for b in buildings])
    for pt, text, rec in texts:
        hits = sorted(outlines.query(pt, predicate="within").tolist())  # outlines holding pt
        if len(hits) != 1:
            probs.add(f"the text lies in {len(hits)} building outlines (needs exactly one)",
                      rec["layer"], rec["row"], "Text")
            continue
        tattrs, parts = text_attrs(text, names)
        labels.setdefault(hits[0], []).extend((f, k, v, rec, text) for f, k, v in tattrs)
        unread.extend((hits[0], rec, p) for p in parts)
    for i, found in labels.items():
        merge_labels(buildings[i], found, probs, units)
    out_buildings = [_building(poly, attrs, rec, probs, units, min_storey)
                     for poly, attrs, rec in buildings]
    notes = [f"{rec['layer']} feature {rec['row']}: the label {part!r} inside building "
             f"{label_of(buildings[i][1], buildings[i][2])} is not understood (neither key=value "
             f"with a known key nor 18F/18层), so it was not read" for i, rec, part in unread]
    notes.extend(twins)
    notes.extend(skipped)
    notes.extend(f"layer {layer!r}: field(s) {', '.join(names)} not read (no attribute the "
                 "check reads; see the project README for the names)"
                 for layer, names in unread_fields.items())
    notes.extend(repairs)
    if not sites:
        probs.add("no site boundary (用地红线): a polygon with role 'site'")
    if not buildings:
        probs.add("no proposed building (建筑): a polygon with role 'building'")
    probs.raise_if_any()
    auth = src_crs.to_authority()  # OGC:CRS84 named so, not by a page of WKT in the report
    return Project(name or source, source, f"EPSG:{src_epsg}" if src_epsg else
                   ":".join(auth) if auth else src_crs.to_wkt(),
                   one_site(sites, cfg.site_seam_m),
                   [b for b in out_buildings if b is not None], demolish, green, notes)



def _building(poly, attrs: dict, rec: dict, probs: Problems, units: Units,
              min_storey: float) -> Building | None:
    def get(key: str) -> Any:
        if key not in attrs:
            return None
        return read_value(key, attrs[key][0], attrs[key][1], rec, probs, units)

    floors, height = get("floors_above"), get("height")

    def given(f: str) -> str:  # a DXF label 0F is its own key
        k, v = attrs[f]
        return str(k) if str(k) == str(v) else f"{k}={v}"

    if floors and floors >= 2 and height is not None \
            and round(height, 3) < round(floors * min_storey, 3):
        # lower than its storeys can be (30 storeys at 10 m): the storeys make the FAR, the
        # height the height limits and the spacing — a typo in either passes rules it should
        # not, and which one is wrong is not ours to pick. One storey is not judged: a
        # gatehouse's or a shed's height given at the eaves is often under a storey's 2.2 m
        probs.add(f"{given('floors_above')} and {given('height')} contradict each other: "
                  f"{floors} storeys above ground need at least {floors * min_storey:g} m "
                  f"({height / floors:.2f} m a storey, lower than field_units.yaml "
                  f"min_storey_height_m {min_storey:g} m): give the height in metres above "
                  "ground and the storeys above ground", rec["layer"], rec["row"],
                  attrs["floors_above"][0])
    if floors == 0 and height is not None and height > min_storey:
        # no floor above ground on a building taller than a storey: one of the two is wrong,
        # and which one decides the rules (an underground structure covers no ground and is
        # spaced from none; a tower is) — not ours to pick
        probs.add(f"{given('floors_above')} (no floor above ground) and {given('height')} "
                  f"({height:g} m, "
                  f"taller than a storey: field_units.yaml min_storey_height_m "
                  f"{min_storey:g} m) contradict each other: give its floors above ground if it "
                  "stands above ground, or, if it is an underground structure, its height "
                  f"above ground (at most {min_storey:g} m)", rec["layer"], rec["row"],
                  attrs["floors_above"][0])
    counted = get("counted_area")
    if counted == 0 and (floors or (floors is None and height is not None
                                    and height > min_storey)):
        # 0 m² counted on a building standing above ground (what a Shapefile written by
        # ArcGIS holds for a number left empty): read as given, a 30-storey tower added
        # nothing to the FAR; which of the two is wrong decides the FAR — not ours to pick
        other = given("floors_above") if floors else given("height")
        probs.add(f"{given('counted_area')} and {other} contradict each other: a building "
                  "standing above ground has a counted floor area; give it, or leave the "
                  "field out to count storeys above ground × footprint (a Shapefile written "
                  "by ArcGIS holds a number left empty as 0)",
                  rec["layer"], rec["row"], attrs["counted_area"][0])
    return Building(label_of(attrs, rec), rec["layer"], rec["row"], poly,
                    floors_above=floors, floors_below=get("floors_below"),
                    height=height,
                    use=str(attrs["use"][1]).strip() if "use" in attrs else None,
                    counted_area_given=counted,
                    ground_elevation=get("ground_elevation"))


def records_from_geojson(obj: Any, source: str = "project") -> list[dict]:
    """The features of a GeoJSON FeatureCollection as records (layer = the ``role``)."""
    from shapely.geometry import shape

    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection" or \
            not isinstance(obj.get("features"), list):
        raise InputError("the project must be a GeoJSON FeatureCollection", path=source)
    out, probs = [], Problems(source)
    for i, f in enumerate(obj["features"], start=1):
        props = (f or {}).get("properties") or {}
        if not isinstance(props, dict):
            probs.add("properties must be an object", "features", i, "properties")
            continue
        try:
            # shapely closes an open ring (as the file path does): said as for a file
            closed = _ring_open(f["geometry"]) if f.get("geometry") else False
            g = shape(f["geometry"]) if f.get("geometry") else None
        except (KeyError, TypeError, ValueError, AttributeError,
                shapely.errors.ShapelyError) as exc:  # an unknown type too (was a 500)
            probs.add(f"the geometry cannot be read: {exc}", "features", i, "geometry")
            continue
        out.append({"layer": "features", "row": i, "properties": props, "geometry": g,
                    "ring_closed": closed})
    probs.raise_if_any()
    if not out:
        raise InputError("the FeatureCollection has no features", path=source)
    return out


def _ring_open(geometry: Any) -> bool:
    """Whether a GeoJSON Polygon or MultiPolygon has a ring whose last position is not its
    first (RFC 7946 says it must be; shapely closes it, GDAL accepts it with a warning)."""
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    polys = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return any(isinstance(ring, list) and len(ring) > 1 and ring[0] != ring[-1]
               for poly in polys or [] if isinstance(poly, list) for ring in poly)
