"""What the pipe queries (cross-section, clearances) share: class facts and pipe geometry in 3D.

Class facts come from the city's ``pipe_classes.csv`` (never from code): the CJJ 61 map colour
(``colour``, "R,G,B") and the level a survey records a pipe's elevation at (``elevation_ref``):
``top`` (管顶, pressure pipes and cables), ``invert`` (管内底, gravity drainage) or ``centre``.
The shipped values follow common CJJ 61 survey practice (drainage at the invert, the others at
the top); a city whose surveys differ edits the column.

Elevations along a segment: ``pipe_segments.geom`` is a LINESTRINGZ at pipe elevation, so the
elevation at a point is the Z of the 3D line there (interpolated by plan distance). A GIS
delivery without Z is flagged ``no_z`` (Z = 0): its elevation is interpolated between the
``start_elevation`` and ``end_elevation`` columns instead (NULL if they are missing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from cim.profile import DICTIONARY_DIR, CityProfile, load_profile, read_csv_dictionary

ELEVATION_REFS = ("top", "invert", "centre")
# PostGIS declares its functions expensive, so a few thousand ST_Intersection calls pass
# jit_above_cost and PostgreSQL spends ~0.7 s compiling a query that runs in 0.15 s (measured on
# the Jining sample's 2,453 segments): the pipe queries run with JIT off, for their
# transaction only (LOCAL: a pooled connection goes back to the server's defaults).
NO_JIT = "SET LOCAL jit = off"
# a pipe end lying on another pipe of its class within this (metres), away from that pipe's
# ends, is tapped into it: a branch of a GIS network whose main is not split at the tee
# (the network graph joins them there; the clearances do not read it as a crossing)
TAP_TOLERANCE_M = 0.001
# a tee's two sections meet when their surveyed heights are this close (CJJ 61's tolerance of a
# pipe point's height, ±5 cm): a branch's end a few centimetres off the main is the joint
TEE_HEIGHT_TOLERANCE_M = 0.05


def apart_subclasses(profile: CityProfile | None) -> frozenset[tuple[str, str, str]]:
    """(class, subclass, subclass) of one class that are other networks, never tapped into
    each other — 雨水 and 污水 (a storm pipe drawn ending on a foul sewer), 中水 and the
    drinking-water subclasses (a cross-connection) — from the ``apart`` column of
    ``pipe_subclasses.csv`` (codes joined by ``|``; both orders). Any other pair of one class
    joins at a tee (a 消防 branch off a 配水 main, a 雨水 pipe into a 合流 sewer), as does an
    unknown subclass (00)."""
    rows = profile.dictionary("pipe_subclasses") if profile is not None else \
        read_csv_dictionary(DICTIONARY_DIR / "pipe_subclasses.csv")
    out: set[tuple[str, str, str]] = set()
    for r in rows:
        for other in (r.get("apart") or "").split("|"):
            if other.strip():
                cls, sub, o = r["class_code"].strip(), r["code"].strip(), other.strip()
                out |= {(cls, sub, o), (cls, o, sub)}
    return frozenset(out)


@dataclass(frozen=True)
class ClassFacts:
    """One pipe class of the dictionary as the drawings and clearances need it."""

    code: str
    name: str
    name_en: str
    colour: tuple[int, int, int]
    elevation_ref: str  # top | invert | centre

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.colour)


# the configured profile by CIM_PROFILE, as read (its file's path and mtime with it): the
# OGC processes resolve it on every call, and the settings and the YAML took ~3-6 ms of an
# isolation's ~8
_RESOLVED: dict[str | None, tuple[Path | None, int, CityProfile | None]] = {}


def resolve_profile(profile: CityProfile | None) -> CityProfile | None:
    """The given profile, else the configured one (CIM_PROFILE / the sample); None when no
    profile can be found (the platform's default dictionaries are used then). The configured
    one is read again when CIM_PROFILE or its file's modification time changes."""
    if profile is not None:
        return profile
    env = os.environ.get("CIM_PROFILE")
    hit = _RESOLVED.get(env)
    if hit is not None:
        path, mtime, prof = hit
        if path is None or _mtime(path) == mtime:
            return prof
    from cim.config import Settings

    path = Settings().profile
    mtime = _mtime(path) if path else 0
    prof = load_profile(path) if path else None
    _RESOLVED[env] = (path, mtime, prof)
    return prof


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def dictionary(profile: CityProfile | None, name: str) -> list[dict[str, str]]:
    """Rows of a CSV dictionary: the city's override, else the platform default."""
    from cim.profile import DICTIONARY_DIR, read_csv_dictionary

    if profile is not None:
        return profile.dictionary(name)
    return read_csv_dictionary(DICTIONARY_DIR / f"{name}.csv")


def class_facts(profile: CityProfile | None) -> dict[str, ClassFacts]:
    """Class code → its facts (colour, elevation reference) from ``pipe_classes.csv``."""
    from cim.errors import ConfigError

    out: dict[str, ClassFacts] = {}
    for i, row in enumerate(dictionary(profile, "pipe_classes"), start=2):
        try:
            rgb = tuple(int(v) for v in (row.get("colour") or "0,0,0").split(","))
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
                raise ValueError
        except ValueError:
            raise ConfigError(f"colour {row.get('colour')!r} is not R,G,B (0-255)",
                              path="pipe_classes.csv", row=i, field="colour") from None
        ref = (row.get("elevation_ref") or "top").lower()
        if ref not in ELEVATION_REFS:
            raise ConfigError(f"elevation_ref {ref!r} is not one of {', '.join(ELEVATION_REFS)}",
                              path="pipe_classes.csv", row=i, field="elevation_ref")
        out[row["code"]] = ClassFacts(row["code"], row["name"], row.get("name_en") or row["name"],
                                      rgb, ref)  # type: ignore[arg-type]
    return out


def elevation_sql(alias: str, frac: sql.Composable) -> sql.Composable:
    """SQL: pipe elevation of segment ``alias`` at plan fraction ``frac`` (0 start, 1 end)."""
    a = alias

    def c(name: str) -> sql.Composable:
        return sql.Identifier(a, name)

    return sql.SQL(
        "(CASE WHEN 'no_z' = ANY({flags}) THEN {se} + ({f}) * ({ee} - {se}) "
        "ELSE ST_Z(ST_LineInterpolatePoint({g}, {f})) END)").format(
        flags=c("flags"), se=c("start_elevation"), ee=c("end_elevation"), g=c("geom"), f=frac)


def height_m(diameter_mm: float | None, height_mm: float | None) -> float:
    """Outer height of the section in metres (diameter, else box height; 0 if unknown)."""
    mm = diameter_mm if diameter_mm else height_mm
    return float(mm) / 1000.0 if mm else 0.0


def width_m(diameter_mm: float | None, width_mm: float | None) -> float:
    """Outer width of the section in plan, metres (diameter, else box width; 0 if unknown)."""
    mm = diameter_mm if diameter_mm else width_mm
    return float(mm) / 1000.0 if mm else 0.0


def vertical_extent(elev: float, ref: str, h: float) -> tuple[float, float]:
    """(bottom, top) of a section of height ``h`` whose surveyed elevation ``elev`` is at
    ``ref`` (top, invert or centre). Wall thickness is not in the data: an invert is taken
    as the bottom of the section."""
    if ref == "top":
        return elev - h, elev
    if ref == "invert":
        return elev, elev + h
    return elev - h / 2, elev + h / 2


def size_text(row: dict) -> str | None:
    """Size as surveyors write it: the delivered text, else DN / W×H from the columns."""
    if row.get("size_text"):
        return str(row["size_text"])
    if row.get("diameter_mm"):
        return f"DN{row['diameter_mm']:g}"
    if row.get("width_mm") and row.get("height_mm"):
        return f"{row['width_mm']:g}×{row['height_mm']:g}"
    return None
