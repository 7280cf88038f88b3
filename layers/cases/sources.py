"""Opening cases from people: an inspector's report (巡查上报) and a 12345 call (市民热线).

Who may open a case from which source is data (``sources`` in ``case_workflow.yaml``; a
sensor alarm, 传感告警, is opened by layers.iot through :func:`layers.cases.store.open_case`
with role ``system``). An inspector's report has a place (a point, an asset or a grid cell)
and may carry photos; a hotline call has a text address placed by the gazetteer
(:mod:`layers.cases.geocode`) unless a point is given, and the caller's contact, which goes to
``case_contacts`` (never published). A photo is accepted when its bytes are one of the media
types the file lists (JPEG, PNG, WebP by their signatures: the name proves nothing) and not
over ``max_bytes``; it is stored with its SHA-256. A report carries at most ``max_photos``
(the body-size cap alone let one report hold thousands of small photos).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from cim.errors import ConfigError, InputError
from cim.profile import read_yaml_mapping
from cim.text import shown
from layers.cases.auth import User
from layers.cases.categories import category
from layers.cases.geocode import geocode
from layers.cases.store import case_id, get_case, open_case
from layers.cases.workflow import WORKFLOW_FILE, RoleError, workflow_file

if TYPE_CHECKING:
    from cim.profile import CityProfile

# media type by the first bytes of the file
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


@lru_cache(maxsize=8)
def settings(path: Path = WORKFLOW_FILE) -> dict[str, Any]:
    """The ``sources``, ``attachments`` and ``gazetteer`` sections of the workflow file
    (:func:`layers.cases.workflow.workflow_file`: the city's copy, else the platform's)."""
    raw = read_yaml_mapping(path, "the case workflow")
    return {"sources": raw.get("sources") or {}, "attachments": raw.get("attachments") or {},
            "gazetteer": list(raw.get("gazetteer") or [])}


def max_photos(profile: CityProfile | None = None) -> int:
    """The photos one report may carry: the city's ``attachments.max_photos``; a city copy
    of the workflow written before the setting existed keeps the platform file's."""
    path = workflow_file(profile)
    value = settings(path)["attachments"].get("max_photos")
    if value is None and path != WORKFLOW_FILE:
        value = settings(WORKFLOW_FILE)["attachments"].get("max_photos")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"attachments.max_photos is {value!r}: a whole number of photos, "
                          "1 or more", path=str(path), field="attachments.max_photos")
    return value


# the photos of one report together when a city's workflow names no max_report_bytes (a copy
# written before the setting): four photos as large as a photo may be
DEFAULT_REPORT_BYTES = 40 << 20


def max_report_bytes(profile: CityProfile | None = None) -> int:
    """The bytes one report's photos may hold together (``attachments.max_report_bytes``):
    an HTTP report's body was capped at one photo's size, so two 6 MB phone photos — each
    under ``max_bytes``, two of nine — were a 413 naming neither (probe of session 19)."""
    path = workflow_file(profile)
    cfg = settings(path)["attachments"]
    value, photo = cfg.get("max_report_bytes"), int(cfg.get("max_bytes") or 10 << 20)
    if value is None:  # (a city copy of before: never less than one photo may be)
        return max(DEFAULT_REPORT_BYTES, photo)
    if isinstance(value, bool) or not isinstance(value, int) or value < photo:
        raise ConfigError(f"attachments.max_report_bytes is {value!r}: a whole number of "
                          f"bytes, at least max_bytes ({photo}: one photo)", path=str(path),
                          field="attachments.max_report_bytes")
    return value


def check_photo_bytes(sizes: list[int], profile: CityProfile | None = None,
                      field: str = "photos") -> None:
    """An InputError naming ``field`` when the photos together are over
    :func:`max_report_bytes` (the command line and HTTP alike)."""
    limit = max_report_bytes(profile)
    if sum(sizes) > limit:
        raise InputError(f"{len(sizes)} photos of {sum(sizes)} bytes together: a report's "
                         f"photos hold at most {limit} (attachments.max_report_bytes of "
                         f"{workflow_file(profile).name})", field=field)


def check_photo_count(n: int, profile: CityProfile | None = None,
                      field: str = "photos") -> None:
    """An InputError naming ``field`` (``photos`` over HTTP, ``--photo`` on the command
    line) when ``n`` photos are more than a report may carry; checked before any photo is
    read or decoded."""
    limit = max_photos(profile)
    if n > limit:
        raise InputError(f"{n} photos: a report carries at most {limit} (attachments."
                         f"max_photos of {workflow_file(profile).name})", field=field)


def media_type(content: bytes) -> str | None:
    """The media type the bytes are (JPEG, PNG, WebP), else None."""
    for sig, kind in _SIGNATURES:
        if content.startswith(sig):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def attach(conn: psycopg.Connection, code: str, name: str, content: bytes,
           profile: CityProfile | None = None, field: str = "--photo") -> dict[str, Any]:
    """Store a photo of case ``code``; its id, media type and SHA-256. ``field``: where the
    photo was given, for a refusal (``--photo``; over HTTP the body's ``photos[i]``)."""
    cfg = settings(workflow_file(profile))["attachments"]
    kind = media_type(content)
    allowed = cfg.get("media_types") or []
    if kind is None or kind not in allowed:
        raise InputError(f"{name}: not a photo of an accepted type ({', '.join(allowed)}); "
                         "the file's bytes are checked, not its name", field=field)
    if len(content) > int(cfg.get("max_bytes") or 10 << 20):
        raise InputError(f"{name}: {len(content)} bytes, over {cfg.get('max_bytes')}",
                         field=field)
    digest = hashlib.sha256(content).hexdigest()
    aid = conn.execute("INSERT INTO case_attachments (case_id, name, media_type, sha256, "
                       "content) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                       (case_id(conn, code), name, kind, digest, content)).fetchone()[0]
    return {"id": aid, "name": name, "media_type": kind, "sha256": digest}


def report_problem(conn: psycopg.Connection, user: User, *, source: str, category_code: str,
                   point: tuple[float, float] | None = None, grid_code: str | None = None,
                   address: str | None = None, description: str | None = None,
                   asset_code: str | None = None,
                   photos: list[tuple[str, bytes]] | None = None,
                   contact: dict | None = None,
                   reported_at: dt.datetime | None = None,
                   profile: CityProfile | None = None,
                   photo_field: Callable[[int], str] = lambda _i: "--photo") -> dict[str, Any]:
    """Open a case from a person (see the module docstring) under ``profile``'s loop and
    categories (None: the platform's files); the case with its trail and what was attached.
    Runs in the caller's transaction."""
    cfg = settings(workflow_file(profile))
    roles = cfg["sources"]
    if source not in roles:
        raise InputError(f"source {shown(source)}: people report from {', '.join(roles)}",
                         field="source")
    if user.role not in roles[source]:
        raise RoleError(f"a {source} case is opened by {'/'.join(roles[source])}, not "
                        f"{user.role} ({user.name})")
    check_photo_count(len(photos or []), profile)
    check_photo_bytes([len(content) for _name, content in photos or []], profile)
    # named as a report gives it (the body's category, the CLI's --category), not as
    # open_case's parameter
    category(category_code, field="category", profile=profile)
    place = None
    if point is None and grid_code is None and asset_code is None:
        if not address:
            raise InputError("give a place: a point, a grid cell, an asset code or (hotline) "
                             "an address", field="address" if source == "市民热线" else "point")
        place = geocode(conn, address, cfg["gazetteer"])
        point, grid_code = (place.x, place.y), place.grid_code
    contact = dict(contact or {})
    # the user who reported is the one acting: a report naming another (its body's
    # contact.reporter_user) had the case's contact credit someone who never reported it
    given = contact.get("reporter_user")
    if given is not None and given != user.name:
        raise InputError(f"contact reporter_user {shown(given)} is not the user reporting "
                         f"({user.name}); the platform records who reports: give "
                         "reporter_name and phone only", field="contact.reporter_user")
    contact["reporter_user"] = user.name
    case = open_case(conn, source=source, category_code=category_code, actor=user.name,
                     role=user.role, point=point, grid_code=grid_code, address=address,
                     description=description, asset_code=asset_code,
                     reported_at=reported_at, contact=contact, grid_hint=place is not None,
                     profile=profile)
    files = [attach(conn, case["code"], name, content, profile, photo_field(i))
             for i, (name, content) in enumerate(photos or [])]
    out = get_case(conn, case["code"], events=True, contacts=True)
    out["geocoded"] = None if place is None else {"name": place.name, "layer": place.layer}
    out["attached"] = files
    return out
