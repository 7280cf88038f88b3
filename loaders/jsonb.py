"""Attributes as PostgreSQL's ``jsonb`` holds them: its key order and its equality.

A reload decides whether a feature changed by its content hash and, beside it, its ``attrs``
(the source fields no column holds: :mod:`loaders.hashing` leaves them out). jsonb keeps an
object's keys shorter first, then by their UTF-8 bytes, and writes them back in that order
with ``", "`` and ``": "`` between — the separators ``json.dumps`` uses. Attrs texts built in
that order (:func:`loaders.common.attrs_json`, :func:`loaders.pipes.attrs_json.attrs_texts`)
are therefore, for the texts and numbers a survey holds, the very text the server gives back
(``attrs::text``): a reload compares a digest of each instead of parsing a million JSON
documents twice (docs/benchmarks.md). Where the texts differ all the same (a float PostgreSQL
writes without its exponent, keys a reload leaves out), the server compares the values, as
jsonb's ``=`` does (:meth:`loaders.engine.known.Known.same_extras`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def key_order(key: str) -> tuple[int, bytes]:
    """Where jsonb puts ``key`` among an object's keys (its ``sort`` key)."""
    b = key.encode("utf-8", "surrogatepass")
    return len(b), b


def ordered_keys(keys: Iterable[str]) -> list[str]:
    """``keys`` in jsonb's order."""
    return sorted(keys, key=key_order)


def ordered(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` as a dict whose keys run in jsonb's order (what ``json.dumps`` then writes)."""
    return {k: obj[k] for k in ordered_keys(obj)}
