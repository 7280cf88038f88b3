"""What GDAL's GML reader does not do for a city model, done before it reads one.

GDAL gives a GML feature one geometry — the last geometry property it meets — and reads
every coordinate of a file in one CRS. A CityGML building is often more: parts with a solid
each (``bldg:consistsOfBuildingPart``), a LOD1 block beside its terrain intersection curve or
its LOD2 solid, Envelopes and geometries naming different CRSs in one merged delivery. Read
as GDAL reads them, such buildings lost parts, took their height from a LOD2 roof or their
footprint from a curve, or landed hundreds of kilometres off — all without a word. Here a
copy (in a temporary folder, never beside the delivery) gives each building the one
geometry the loader promises, and a file whose srsNames name different CRSs is refused.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pyproj

from cim.crs import srs_name_crs
from cim.errors import InputError

_PARTS = b"consistsOfBuildingPart"
# bytes that tell a building may hold more than one geometry property: parts, a curve or a
# footprint beside a solid, or a LOD1 geometry beside a higher LOD's — only such files are
# parsed here (a LOD2 model alone is read as GDAL reads it)
_ALWAYS = (_PARTS, b"TerrainIntersection", b"MultiCurve", b"RoofEdge", b"FootPrint")
_LOD1 = (b"lod1Solid", b"lod1MultiSurface")
_HIGHER = (b"lod2Solid", b"lod2MultiSurface", b"lod3Solid", b"lod3MultiSurface", b"lod4Solid",
           b"lod4MultiSurface")
# (path, size, mtime) → what _building_parts_merged gave: its copy lives as long as the process
_MERGED: dict[tuple[str, int, int], tuple[Path, int, int, str] | None] = {}
# a building's own geometry property: lod1Solid, lod2MultiSurface, lod0FootPrint,
# lod1TerrainIntersection …
_LOD_PROPERTY = re.compile(r"lod([0-4])(Solid|MultiSurface|FootPrint|RoofEdge|MultiCurve|"
                           r"TerrainIntersection)")
_CURVES = ("MultiCurve", "TerrainIntersection")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _may_hold_many(path: Path) -> bool:
    """Whether a GML's bytes name a building part, a curve or footprint, or a LOD1 geometry
    beside a higher LOD's (read in 16 MiB chunks, none missed at their seams)."""
    tail = b""
    longest = max(map(len, _ALWAYS + _LOD1 + _HIGHER))
    lod1 = higher = False
    with open(path, "rb") as fh:
        while chunk := fh.read(16 << 20):
            text = tail + chunk
            if any(n in text for n in _ALWAYS):
                return True
            lod1 = lod1 or any(n in text for n in _LOD1)
            higher = higher or any(n in text for n in _HIGHER)
            if lod1 and higher:
                return True
            tail = text[-longest:]
    return False


def _rank(local: str) -> int | None:
    """Which of a building's geometry properties is read: the lowest rank it has — a LOD1
    solid or surface (1) before a LOD2 … LOD4 one (2–4), a LOD0 footprint or roof edge (5)
    only without those, curves (terrain intersections) last (9); None: no such property."""
    m = _LOD_PROPERTY.fullmatch(local)
    if m is None:
        return None
    lod, kind = int(m[1]), m[2]
    if kind in _CURVES:
        return 9
    return 5 if lod == 0 else lod


def _owners(building: ET.Element) -> list[ET.Element]:
    """The building and its parts (nested parts too): whose own properties are its
    geometry."""
    return [building] + [e for e in building.iter()
                         if _local(e.tag) == "BuildingPart" and e is not building]


def _one_geometry(member: ET.Element) -> tuple[int, int, set[str]]:
    """In one city object: each building given one geometry property as the loader reads
    it — its LOD1 solid (or the lowest LOD it has), parts and all: several such properties
    (its own, its parts') become one ``lod1Solid`` of all their faces (the footprint then their
    union, the height the whole building's z extent); the properties of other ranks (a
    terrain intersection, a LOD2 solid beside the LOD1 block) are removed from the copy.
    (buildings merged, buildings whose other geometries were set aside, their names)."""
    parent = {c: p for p in member.iter() for c in p}
    merged = aside = 0
    names: set[str] = set()
    for building in [e for e in member.iter() if _local(e.tag) == "Building"]:
        props = [(c, r) for o in _owners(building) for c in o
                 if (r := _rank(_local(c.tag))) is not None]
        if not props:
            continue
        best = min(r for _c, r in props)
        other = [c for c, r in props if r != best]
        for c in other:
            parent[c].remove(c)
            names.add(_local(c.tag))
        aside += bool(other)
        kept = [c for c, r in props if r == best]
        if len(kept) < 2 or best > 4:
            continue  # one geometry; or footprints, curves: not made a solid
        polygons = [g for e in kept for g in e.iter() if _local(g.tag) == "Polygon"]
        if not polygons:
            continue  # surfaces by reference (xlink) only: left as they are
        gml = polygons[0].tag.rsplit("}", 1)[0] + "}"
        srs = next((g.get("srsName") for e in kept for g in e.iter() if g.get("srsName")),
                   None)
        for e in kept:
            parent[e].remove(e)
        lod = ET.SubElement(building, kept[0].tag.rsplit("}", 1)[0] + "}lod1Solid")
        solid = ET.SubElement(lod, gml + "Solid", {"srsName": srs} if srs else {})
        surface = ET.SubElement(ET.SubElement(solid, gml + "exterior"),
                                gml + "CompositeSurface")
        for g in polygons:
            ET.SubElement(surface, gml + "surfaceMember").append(g)
        merged += 1
    return merged, aside, names


def building_parts_merged(path: Path) -> tuple[Path, int, int, str] | None:
    """A copy of a CityGML in which each building has one geometry property
    (:func:`_one_geometry`): (the copy, buildings merged from parts, buildings whose other
    geometries were set aside, the names of those set aside), or None when no building needed
    it — the copy is then removed at once (a city model's size on disk).

    Read with ElementTree after :func:`loaders.sources.precheck.check_xml_safety` (no DOCTYPE
    reaches it), streamed one city object at a time (a city's model is not held whole); only
    files whose bytes name a part or another geometry property are parsed here."""
    from loaders.sources.read import remove_scratch, scratch_dir

    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _MERGED:  # opened again by the same load (its kind told, then loaded)
        return _MERGED[key]
    if not _may_hold_many(path):
        _MERGED[key] = None
        return None
    out = scratch_dir("cim-citygml-") / path.name
    merged = aside = depth = 0
    names: set[str] = set()
    root: ET.Element | None = None
    close = b""
    try:  # streamed: one city object at a time is held, merged and written
        with open(out, "wb") as fh:
            fh.write(b'<?xml version="1.0" encoding="utf-8"?>\n')
            for event, item in ET.iterparse(path, events=("start-ns", "start", "end")):
                if event == "start-ns":
                    try:  # the file's own prefixes (gml:id is read by its name)
                        ET.register_namespace(*item)
                    except ValueError:  # a prefix ElementTree keeps for itself (ns0)
                        pass
                elif event == "start":
                    depth += 1
                    if depth == 1:  # the root: opened here, closed at the end
                        root = item
                        tag = ET.tostring(ET.Element(item.tag, item.attrib), encoding="unicode")
                        tag = tag[:-2].rstrip() + ">"  # <CityModel xmlns="…" />
                        close = f"</{tag[1:].split()[0].rstrip('>')}>\n".encode()
                        fh.write(tag.encode() + b"\n")
                else:
                    depth -= 1
                    if depth == 1:  # a city object member (or the model's envelope, name …)
                        m, a, n = _one_geometry(item)
                        merged, aside = merged + m, aside + a
                        names |= n
                        fh.write(ET.tostring(item, encoding="unicode").encode())
                        if root is not None:
                            root.remove(item)
            fh.write(close)
    except ET.ParseError as exc:
        remove_scratch(out.parent)
        raise InputError(f"its XML cannot be read: {exc}", path=str(path)) from exc
    if not merged and not aside:  # one geometry property each: the copy is no use
        remove_scratch(out.parent)
        _MERGED[key] = None
        return None
    _MERGED[key] = (out, merged, aside, ", ".join(sorted(names)))
    return _MERGED[key]


def is_citygml(path: Path) -> bool:
    """A CityGML city model (its head names a CityGML namespace)."""
    with open(path, "rb") as fh:
        return b"opengis.net/citygml" in fh.read(16384)


# no \b before it: a literal start keeps the scan at memory speed (a city model is GBs)
_ANY_SRS_NAME = re.compile(rb"""srsName\s*=\s*["']([^"']*)["']""")
_SRS_NAMES: dict[tuple[str, int, int], dict[str, int]] = {}


def srs_names(path: Path) -> dict[str, int]:
    """Every distinct ``srsName`` of a GML and the line it is first written on, read in
    16 MiB chunks (none missed at their seams; the file is never parsed nor held whole)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _SRS_NAMES:
        return _SRS_NAMES[key]
    found: dict[str, int] = {}
    tail, lines = b"", 1  # lines: the line ``tail`` starts on
    with open(path, "rb") as fh:
        while chunk := fh.read(16 << 20):
            text = tail + chunk
            end = 0
            for m in _ANY_SRS_NAME.finditer(text):
                name = m.group(1).decode("utf-8", "replace").strip()
                if name and name not in found:
                    found[name] = lines + text.count(b"\n", 0, m.start())
                end = m.end()
            cut = max(end, len(text) - 1024)  # a match cut at the seam is read whole next
            lines += text.count(b"\n", 0, cut)
            tail = text[cut:]
    _SRS_NAMES[key] = found
    return found


def check_one_crs(path: Path) -> list[str]:
    """InputError when a GML's srsNames name different horizontal CRSs (a delivery merged
    from two exports: a building's Envelope in EPSG:25833, another's in EPSG:31469): GDAL
    reads every coordinate of a file in one CRS, so the features of the other landed far off
    (rejected as outside the city, the CRS unsaid) or, for two CRSs a few dozen metres
    apart (CGCS2000 and Xian 1980 Gauss-Krüger), loaded there without a word. The same CRS
    spelled otherwise (``EPSG:25833``, ``urn:ogc:def:crs:EPSG::25833``, a compound CRS of it
    and a height) is one CRS. A srsName PROJ cannot resolve beside one it can (an exporter's
    own spelling of the same CRS, or another) cannot be told either way: the notes say so."""
    seen: list[tuple[pyproj.CRS, str, int]] = []
    unresolved: list[tuple[str, int]] = []
    for name, line in srs_names(path).items():
        try:
            crs, _swap = srs_name_crs(name)
        except InputError:
            unresolved.append((name, line))
            continue
        if any(crs.equals(c, ignore_axis_order=True) for c, _n, _l in seen):
            continue
        seen.append((crs, name, line))
    if len(seen) > 1:
        listed = "; ".join(f"{n!r} ({c.name}) first on line {ln}" for c, n, ln in seen)
        raise InputError(f"its srsNames name {len(seen)} different CRSs — {listed}: GDAL "
                         "reads every coordinate of a file in one CRS, so the features of the "
                         "others would land in the wrong place; export the file in one CRS "
                         "(or split it by CRS and load each part)", path=str(path))
    if not seen:
        return []
    return [f"its srsName {n!r} (first on line {ln}) cannot be resolved: what names it is read "
            f"in the one CRS of the file, as what names {seen[0][1]!r} (GDAL reads a file in "
            "one CRS; check those features if it is another)" for n, ln in unresolved]
