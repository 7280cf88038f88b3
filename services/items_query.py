"""What a request to ``/collections/{id}/items`` asks for, validated: the platform's items path.

Every parameter is checked here, before any SQL: a malformed or unknown one is a
:class:`ParamError` (HTTP 400 with a message naming it), never a database error. A request
the platform's path does not answer itself (``filter`` without a CQL2 translator, ``datetime``,
``q``, a format other than GeoJSON) is marked ``fall_through``: pygeoapi answers it.

CRSs are read once per process (:func:`crs_info`), never per request.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from cim.crs import CRS84_URI, crs_uri, is_crs84, lonlat_srid, parse_crs, storage_domain
from cim.errors import InputError

# parameters of OGC API Features Part 1-3 (and pygeoapi) that the items path knows
KNOWN = frozenset({"f", "lang", "bbox", "bbox-crs", "crs", "limit", "offset", "cursor",
                   "resulttype", "properties", "skipGeometry", "sortby", "datetime", "q",
                   "filter", "filter-lang", "filter-crs", "resultType"})
# answered by pygeoapi (the provider) unless a hook takes them over (none is left: the items
# path answers datetime and q itself, so they combine with CQL2 filters and cursors)
PYGEOAPI_ONLY: frozenset[str] = frozenset()
FILTER_PARAMS = frozenset({"filter", "filter-lang", "filter-crs"})
_INT = re.compile(r"[0-9]{1,19}")  # ASCII only: int() reads any script's digits
_TERM_SEPARATOR = re.compile("[,\uff0c]")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class ParamError(ValueError):
    """A bad query parameter: HTTP 400 with this message."""


@dataclass(frozen=True)
class CrsInfo:
    """A CRS the collection serves: its URI, PostGIS SRID and axis order."""

    uri: str
    srid: int
    north_first: bool  # the CRS's first axis is northing/latitude (EPSG:4490, EPSG:4527)
    geographic: bool
    # where the layer's data can lie, x/y in this CRS (cim.crs.storage_domain): a
    # bbox is cut to it before it is projected; None for the storage CRS
    domain: tuple[float, float, float, float] | None = None

    @property
    def digits(self) -> int:
        """Decimals of served coordinates: 1e-9° or 0.1 mm, both well under a millimetre."""
        return 9 if self.geographic else 4


@lru_cache(maxsize=64)
def crs_info(uri: str, storage_srid: int) -> CrsInfo:
    """The CRS behind ``uri`` for data stored in ``storage_srid``, parsed once per process.
    CRS84 is lon/lat as :func:`cim.crs.lonlat_srid` computes it (CGCS2000's for CGCS2000
    data)."""
    if is_crs84(uri):
        srid = lonlat_srid(storage_srid)
        return CrsInfo(uri, srid, False, True, storage_domain(srid, storage_srid))
    try:
        crs = parse_crs(uri)
    except InputError as exc:
        raise ParamError(f"unknown CRS {uri}") from exc
    epsg = crs.to_epsg()
    if epsg is None:
        raise ParamError(f"CRS {uri} has no EPSG code")
    north = bool(crs.axis_info) and crs.axis_info[0].direction.lower() in ("north", "south")
    return CrsInfo(uri, epsg, north, crs.is_geographic, storage_domain(epsg, storage_srid))


@dataclass(frozen=True)
class Column:
    """A published attribute: its name and JSON type (from :mod:`layers.catalog`)."""

    name: str
    json_type: str


@dataclass
class ItemsQuery:
    """A validated items request."""

    limit: int
    offset: int = 0
    cursor: int | None = None
    # a sorted page after another one: the last feature's sort values and id (sort_cursor)
    after: tuple[tuple, int] | None = None
    bbox: tuple[float, float, float, float] | None = None  # x/y in PostGIS order
    bbox_empty: bool = False  # the bbox lies wholly where the layer can have no data
    bbox_crs: CrsInfo | None = None
    out_crs: CrsInfo | None = None
    props: list[tuple[Column, object]] = field(default_factory=list)
    select: tuple[str, ...] | None = None
    skip_geometry: bool = False
    sortby: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    hits: bool = False
    filter: tuple[str, str | None, str | None] | None = None  # text, filter-lang, filter-crs
    # datetime: the versions valid then instead of the current ones: (start, end), each a
    # datetime or None (open); a date as start is its first instant, as end the next day's
    # (end_exclusive); one_version: each feature once, its latest version valid then
    valid_at: tuple[datetime | date | None, datetime | date | None] | None = None
    end_exclusive: bool = False
    one_version: bool = False
    terms: tuple[str, ...] = ()  # q: comma-separated search terms


@dataclass(frozen=True)
class Limits:
    default_limit: int
    max_limit: int
    max_offset: int


def unknown_params(args, columns: dict[str, Column]) -> list[str]:
    """Parameters that are neither OGC API ones nor published attributes (OGC: 400)."""
    return [k for k in args.keys() if k not in KNOWN and k not in columns]


def parse_items(args, columns: dict[str, Column], crs: dict[str, CrsInfo],
                limits: Limits) -> ItemsQuery:
    """``args`` (a Flask MultiDict) as an :class:`ItemsQuery`; :class:`ParamError` if bad."""
    q = ItemsQuery(limit=limits.default_limit)
    # a parameter given twice (filter=a&filter=b, use_name=住宅&use_name=商业) was read as
    # its first value, the others dropped without a word: half the answer
    for name in args.keys():
        if hasattr(args, "getlist") and len(given := args.getlist(name)) > 1:
            raise ParamError(f"parameter {name} given {len(given)} times: give it once "
                             "(several values of a property: filter=" + name + " IN (…))")
    if (v := args.get("limit")) is not None:
        q.limit = min(_int(v, "limit", least=1), limits.max_limit)
    if (v := args.get("offset")) is not None:
        q.offset = _int(v, "offset")
        if q.offset > limits.max_offset:
            raise ParamError(f"offset over {limits.max_offset}: follow the `next` links "
                             "(they carry a cursor) to page further")
    rt = result_type(args)
    if rt not in ("results", "hits"):
        raise ParamError("resulttype must be results or hits")
    q.hits = rt == "hits"
    q.out_crs = _crs(args.get("crs") or CRS84_URI, crs, "crs")
    if (v := args.get("bbox")) is not None:
        q.bbox_crs = _crs(args.get("bbox-crs") or CRS84_URI, crs, "bbox-crs")
        q.bbox = _bbox(v, q.bbox_crs)
        _check_axis_order(q.bbox, q.bbox_crs, v)
        if q.bbox_crs.domain is not None:  # cut to where the data can lie, then projected
            q.bbox, q.bbox_empty = clip_box(q.bbox, q.bbox_crs.domain)
    elif args.get("bbox-crs") is not None:
        raise ParamError("bbox-crs given without bbox")
    if (v := args.get("properties")) is not None:
        names = tuple(n for n in v.split(",") if n)
        if not names:  # pygeoapi's pages refused it, GeoJSON served only the ids
            raise ParamError("properties names no property: give the property names to "
                             "return, comma-separated (the id is always returned)")
        _known(names, columns, "properties")
        q.select = names
    if (v := args.get("skipGeometry")) is not None:
        if v.lower() not in ("true", "false"):
            raise ParamError("skipGeometry must be true or false")
        q.skip_geometry = v.lower() == "true"
    if (v := args.get("sortby")) is not None:
        keys = []
        for s in (s for s in v.split(",") if s):
            desc = s[0] == "-"
            name = s[1:] if s[0] in "+- " else s  # '+' arrives as ' ' when not escaped
            _known((name,), columns, "sortby")
            keys.append((name, desc))
        if not keys:  # pygeoapi's pages failed on it (a 500)
            raise ParamError("sortby names no property: give property names, each with an "
                             "optional - (descending) or + before it")
        q.sortby = tuple(keys)
    if (v := args.get("cursor")) is not None:
        if q.sortby:  # the keys of the last feature of the page before (sort_cursor)
            q.after = read_sort_cursor(v, q.sortby, columns)
        else:
            q.cursor = _int(v, "cursor")
    for name, value in args.items():
        if name in columns:
            from services.items_values import property_value

            q.props.append((columns[name], property_value(columns[name], value)))
    if (v := args.get("datetime")) is not None:
        when = parse_datetime(v, city_zone())
        q.valid_at, q.end_exclusive, q.one_version = ((when.start, when.end),
                                                     when.end_exclusive, when.one_version)
    if (v := args.get("q")) is not None:
        q.terms = parse_terms(v)
    if (v := args.get("filter")) is not None:
        lang = args.get("filter-lang")
        if lang not in (None, "cql2-text", "cql2-json", "cql-text", "cql-json"):
            raise ParamError(f"unknown filter-lang {lang}: cql2-text or cql2-json")
        q.filter = (v, lang, args.get("filter-crs"))
    else:
        for name in ("filter-lang", "filter-crs"):
            if args.get(name) is not None:
                raise ParamError(f"{name} given without filter")
    return q


def result_type(args) -> str:
    """``resulttype``, also by its WFS 3 drafts' name ``resultType``: GDAL's OAPIF driver
    (3.6) counts a filtered layer with ``resultType=hits`` when the OpenAPI document lists
    that parameter, and otherwise downloads every matching feature to count them."""
    values = {v for v in (args.get("resulttype"), args.get("resultType")) if v is not None}
    if len(values) > 1:
        raise ParamError("resulttype and resultType say different things: give one")
    return values.pop() if values else "results"


def keyset_sortable(sortby: tuple[tuple[str, bool], ...], columns: dict[str, Column]) -> bool:
    """Whether a sorted request's pages go on by a cursor (its keys' values compare in SQL as
    they sort and come back from JSON as they went): scalars; an array or object property (an
    alarm's ``detail``) pages by offset."""
    return all(columns[n].json_type not in ("array", "object") for n, _ in sortby)


def sort_cursor(sortby: tuple[tuple[str, bool], ...], values: tuple, last_id: int) -> str:
    """The opaque ``cursor`` of a sorted page's ``next`` link: the sort (properties and
    directions), the last feature's values of them and its id, as base64url JSON."""
    def plain(v):
        if isinstance(v, (date, datetime)):
            return v.isoformat()
        if isinstance(v, Decimal):
            return str(v)
        return v

    text = json.dumps([[[n, d] for n, d in sortby], [plain(v) for v in values], last_id],
                      ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_sort_cursor(token: str, sortby: tuple[tuple[str, bool], ...],
                     columns: dict[str, Column]) -> tuple[tuple, int]:
    """(values, id) of a :func:`sort_cursor` for this ``sortby``; ParamError otherwise."""
    bad = ParamError("cursor: not a cursor of this sortby (follow the `next` links as given)")
    if not keyset_sortable(sortby, columns):
        raise ParamError("cursor cannot page a sort by an array or object property: use "
                         "offset")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        spec, values, last_id = json.loads(raw)
    except (ValueError, TypeError, RecursionError):  # a forged one nested deeply too
        raise bad from None
    if (spec != [[n, d] for n, d in sortby] or not isinstance(values, list)
            or len(values) != len(sortby) or type(last_id) is not int):
        raise bad
    out = []
    for (name, _), v in zip(sortby, values):
        kind = columns[name].json_type
        try:
            if v is None:
                pass
            elif kind == "date":
                v = date.fromisoformat(v)
            elif kind == "date-time":
                v = datetime.fromisoformat(v)
            elif kind == "number":
                if isinstance(v, str):
                    v = Decimal(v)
                elif isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise TypeError(v)
            elif kind == "integer":
                if type(v) is not int:
                    raise TypeError(v)
            elif kind == "boolean":
                if type(v) is not bool:
                    raise TypeError(v)
            elif not isinstance(v, str):
                raise TypeError(v)
        except (ValueError, TypeError, ArithmeticError):
            raise bad from None
        out.append(v)
    return tuple(out), last_id


def _int(v: str, name: str, least: int = 0) -> int:
    """A whole number of at least ``least``, one message for any other (limit=-1 and limit=0
    were told two different lower bounds)."""
    if not _INT.fullmatch(v.strip()) or int(v) < least:
        raise ParamError(f"{name} must be a whole number ≥ {least}, not {v!r}")
    return int(v)


# a date written with its hyphens, then any time Python reads (08:00, +08, psql's "+08"): what
# is refused is ISO 8601's basic and week dates (20261207 read as an instant, not the day)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ].*)?", re.DOTALL)


def _datetime(v: str) -> None:
    """An RFC 3339 date or date-time, or an interval of two (``..`` or empty: open)."""
    parts = v.split("/")
    ok = len(parts) in (1, 2) and v.strip() != ""
    for part in parts if ok else []:
        if len(parts) == 2 and part in ("", ".."):
            continue
        try:
            # a calendar date with its hyphens: Python reads ISO 8601's basic and week dates
            # too (20261207 as the instant of its midnight, not the day; 2026-W49)
            if not _RFC3339.fullmatch(part.strip()):
                raise ValueError(part)
            datetime.fromisoformat(part.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            ok = False
    if not ok:
        raise ParamError(f"datetime must be an RFC 3339 date or date-time, or an interval "
                         f"start/end (.. for an open end), not {v[:80]!r}")


@dataclass(frozen=True)
class ValidAt:
    """A ``datetime`` parameter: the versions valid at an instant or during an interval —
    begun by ``end`` (before it when ``end_exclusive``: a date's end is the next day's start),
    not ended by ``start``; None an open end. ``one_version``: an instant date-time is one
    version a feature, a day or an interval may hold several (the latest is served)."""
    start: datetime | date | None
    end: datetime | date | None
    end_exclusive: bool
    one_version: bool


def parse_datetime(v: str, zone: str | None = None) -> ValidAt:
    """``datetime`` (an RFC 3339 date or date-time, or an interval start/end, ``..`` or
    empty an open end) as :class:`ValidAt`, for the items path and the provider alike;
    ParamError naming it otherwise. With ``zone`` (the city's clock, an IANA name), a date is
    the city's day — from its midnight to the next — and a date-time without an offset the
    city's time; without it the database's time zone reads them."""
    _datetime(v)
    parts = [_instant(p) for p in v.split("/")]
    start, end = (parts[0], parts[0]) if len(parts) == 1 else parts
    exclusive = type(end) is date
    if exclusive:
        # the last day there is ends nowhere: an open end (9999-12-31 + 1 day was a 500)
        end = end + timedelta(days=1) if end < date.max else None
    # an instant date-time is one version a feature; a day or an interval may hold several
    one_version = not (len(parts) == 1 and isinstance(start, datetime))
    if zone:
        start, end = _in_zone(start, zone), _in_zone(end, zone)
    comparable = (start is not None and end is not None and type(start) is type(end)
                  and (type(start) is date or (start.tzinfo is None) == (end.tzinfo is None)))
    if comparable and (start >= end if exclusive else start > end):
        raise ParamError(f"datetime interval {v[:80]!r} ends before it starts")
    return ValidAt(start, end, exclusive, one_version)


def _in_zone(t: datetime | date | None, zone: str) -> datetime | None:
    """A date as its first instant in ``zone``, a date-time without an offset as one in it
    (:func:`cim.cityclock.city_time`)."""
    from cim.cityclock import city_time

    return city_time(t, zone)


def city_zone() -> str | None:
    """The served city's clock (its profile's ``timezone``) in a request of the platform's
    app (``CIM_SETTINGS``, :func:`services.app.create_app`), read once per process; None
    elsewhere (the database's time zone then reads dates)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    settings = current_app.config.get("CIM_SETTINGS")
    path = getattr(settings, "profile", None)
    return _profile_zone(str(path)) if path is not None else None


@lru_cache(maxsize=8)
def _profile_zone(path: str) -> str:
    from cim.profile import load_profile

    return load_profile(path).timezone


def parse_terms(v: str) -> tuple[str, ...]:
    """``q``: its comma-separated search terms (blank ones dropped). A full-width comma (，,
    as a Chinese input method types it) separates terms too: ``q=住宅，办公`` searched for the
    one text 住宅，办公 and found nothing."""
    return tuple(t.strip() for t in _TERM_SEPARATOR.split(v) if t.strip())


def _instant(part: str) -> datetime | date | None:
    """One end of a checked ``datetime``: a date, a date-time, or None (open)."""
    part = part.strip()
    if part in ("", ".."):
        return None
    if len(part) == 10:
        return date.fromisoformat(part)
    return datetime.fromisoformat(part.replace("z", "Z").replace("Z", "+00:00"))


def _crs(uri: str, allowed: dict[str, CrsInfo], name: str) -> CrsInfo:
    uri = advertised_uri(uri, allowed)
    if uri not in allowed:
        raise ParamError(f"{name} {uri} is not supported here; one of: {', '.join(allowed)}")
    return allowed[uri]


def advertised_uri(uri: str, allowed) -> str:
    """The URI the collection advertises for ``uri`` when it is another name of it: CRS84 by
    any of its names (OGC:CRS84, its URN, the https form …), an EPSG CRS as ``EPSG:4527``,
    ``[EPSG:4527]``, ``urn:ogc:def:crs:EPSG::4527`` or the https form — the same CRS, in its
    authority's axis order as the advertised URI is. ``filter-crs`` took these names while
    ``crs`` and ``bbox-crs`` refused them; ``uri`` itself otherwise."""
    if uri in allowed:
        return uri
    if CRS84_URI in allowed and is_crs84(uri):
        return CRS84_URI
    code = epsg_code(uri)
    if code is not None and (canonical := crs_uri(code)) in allowed:
        return canonical
    return uri


@lru_cache(maxsize=256)
def epsg_code(name: str) -> int | None:
    """The EPSG code of the CRS ``name`` names when it is that EPSG CRS itself, axes in the
    authority's order (``EPSG:4527``, its URN or URI as :func:`cim.crs.parse_crs` reads them;
    and a safe CURIE ``[EPSG:4527]``); None otherwise — also for a PROJ string or WKT of the
    same projection with easting first."""
    name = name.strip().rstrip("/")
    if len(name) > 200:
        return None
    try:
        crs = parse_crs(name)
    except InputError:
        return None
    code = crs.to_epsg()
    return code if code is not None and crs.equals(parse_crs(code)) else None


def _bbox(v: str, crs: CrsInfo) -> tuple[float, float, float, float]:
    parts = v.split(",")
    if len(parts) not in (4, 6) or not all(_NUMBER.fullmatch(p.strip()) for p in parts):
        raise ParamError(f"bbox must be 4 (or 6) comma-separated numbers, not {v!r}")
    nums = [float(p) for p in parts]
    if not all(math.isfinite(n) for n in nums):
        raise ParamError("bbox numbers must be finite")
    if len(nums) == 6:  # 3D: the vertical extent is not used
        nums = [nums[0], nums[1], nums[3], nums[4]]
    a0, a1, a2, a3 = nums
    if a0 > a2 or a1 > a3:
        raise ParamError(f"bbox lower corner ({a0}, {a1}) is not below its upper corner "
                         f"({a2}, {a3}); give the axes in the order of {crs.uri}")
    # the CRS's axis order -> PostGIS order (x = easting / longitude)
    x0, y0, x1, y1 = (a1, a0, a3, a2) if crs.north_first else (a0, a1, a2, a3)
    if crs.geographic and not (-180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90):
        raise ParamError(f"bbox is outside longitude ±180°, latitude ±90° (in {crs.uri})")
    return x0, y0, x1, y1


def _check_axis_order(box: tuple[float, float, float, float], crs: CrsInfo, v: str) -> None:
    """A bbox in a projected CRS whose first axis is northing (the storage CRS, EPSG:4527),
    given easting first as x/y habit has it: it lies wholly outside the CRS's area while
    read the other way it lies in it. It selected nothing (an empty page, an empty CSV) and
    said nothing; a 400 that says how to give it."""
    if crs.geographic or not crs.north_first:
        return
    area = _projected_area(crs.srid)
    if area is None:
        return

    def meets(b) -> bool:
        return b[0] <= area[2] and area[0] <= b[2] and b[1] <= area[3] and area[1] <= b[3]

    if not meets(box) and meets((box[1], box[0], box[3], box[2])):
        raise ParamError(f"bbox {v} lies outside {crs.uri} as given; read the other way it "
                         f"lies in it: this CRS's first axis is northing, give "
                         f"bbox=minN,minE,maxN,maxE")


@lru_cache(maxsize=16)
def _projected_area(srid: int) -> tuple[float, float, float, float] | None:
    """The area of use of projected CRS ``srid`` in its x/y (easting, northing), widened by
    100 km; None without one."""
    from cim.crs import transformer

    area = parse_crs(srid).area_of_use
    if area is None:
        return None
    x0, y0, x1, y1 = transformer("EPSG:4326", srid).transform_bounds(
        area.west, area.south, area.east, area.north, densify_pts=21)
    return (x0 - 1e5, y0 - 1e5, x1 + 1e5, y1 + 1e5)


def clip_box(box: tuple[float, float, float, float],
             domain: tuple[float, float, float, float]
             ) -> tuple[tuple[float, float, float, float], bool]:
    """``box`` cut to ``domain`` (both x/y in PostGIS order), and whether nothing is left."""
    x0, y0 = max(box[0], domain[0]), max(box[1], domain[1])
    x1, y1 = min(box[2], domain[2]), min(box[3], domain[3])
    if x0 > x1 or y0 > y1:
        return box, True
    return (x0, y0, x1, y1), False


def _known(names, columns: dict[str, Column], param: str) -> None:
    bad = [n for n in names if n not in columns]
    if bad:
        raise ParamError(f"{param}: unknown propert{'y' if len(bad) == 1 else 'ies'} "
                         f"{', '.join(bad)}; known: {', '.join(columns)}")
