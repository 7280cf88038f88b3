"""Attributes as PostgreSQL's ``jsonb`` holds them: its key order and its equality.

A reload decides whether a feature changed by its content hash and, beside it, its ``attrs``
(the source fields no column holds: :mod:`loaders.hashing` leaves them out). jsonb keeps an
object's keys shorter first, then by their UTF-8 bytes, and writes them back in that order
with ``", "`` and ``": "`` between — the separators ``json.dumps`` uses. Attrs texts built in
that order (:func:`loaders.common.attrs_json`, :func:`loaders.pipes.attrs_json.attrs_texts`)
are therefore, for the texts and numbers a survey holds, the very text the server gives back
(``attrs::text``): a reload compares a digest of each instead of parsing a million JSON
documents twice (docs/benchmarks.md). Where the texts differ all the same (a float PostgreSQL
writes without its exponent, keys a reload leaves out), the server compares the values
(:func:`same_sql`; :meth:`loaders.engine.known.Known.same_extras` and the staging writer's
merge)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from psycopg import sql

#: a text that is a number as JSON writes one (no sign "+", leading zero or space): the same
#: value as a JSON number when the two are equal numbers
#: (its digits and exponent bounded: within what ``numeric`` holds)
NUMBER_TEXT = r"^-?(0|[1-9][0-9]{0,99})(\.[0-9]{1,100})?([eE][-+]?[0-9]{1,3})?$"
#: a number with its thousands grouped by commas, as the loaders read one (1,234 is 1234:
#: :func:`loaders.fields.as_float`), bounded as above
GROUPED_TEXT = r"^-?[1-9][0-9]{0,2}(,[0-9]{3}){1,33}(\.[0-9]{1,100})?$"


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


def _number(v: str) -> str:
    """SQL (a template for :class:`psycopg.sql.SQL`, its braces doubled): the number the
    JSON value ``v`` is or reads as, else NULL."""
    text = f"({v} #>> '{{{{}}}}')"
    pattern = NUMBER_TEXT.replace("{", "{{").replace("}", "}}")
    grouped = GROUPED_TEXT.replace("{", "{{").replace("}", "}}")
    return (f"CASE jsonb_typeof({v}) WHEN 'number' THEN {text}::numeric "
            f"WHEN 'string' THEN CASE WHEN {text} ~ '{pattern}' THEN {text}::numeric "
            f"WHEN {text} ~ '{grouped}' THEN replace({text}, ',', '')::numeric END END")


def same_sql(a: sql.Composable, b: sql.Composable) -> sql.Composed:
    """SQL: whether the attrs objects ``a`` and ``b`` hold the same values — jsonb's ``=``,
    and besides a number and a text that reads as the same number (``1`` and ``"1"``,
    ``3915200`` and ``"3915200.0"``, ``1234`` and ``"1,234"``): one delivery re-saved in another format (a GeoPackage's
    integer field written to CSV, a survey's CSV saved from Excel) spells its values by the
    format's types, and every row would get a new version for it. Two texts compare as texts
    (``"1.20"`` and ``"1.2"`` differ, as ``"007"`` and ``7`` do)."""
    # a key's values differ: missing on one side, else (CASE: in this order, so that only a
    # number and a text are ever read as numbers) unequal values of one type, or a number and
    # a text that is not the same number
    return sql.SQL(
        "({a} = {b} OR ((SELECT count(*) FROM jsonb_object_keys({a})) = "
        "(SELECT count(*) FROM jsonb_object_keys({b})) AND NOT EXISTS ("
        "SELECT FROM jsonb_each({a}) x LEFT JOIN jsonb_each({b}) y USING (key) "
        "WHERE CASE WHEN y.value IS NULL THEN true WHEN x.value = y.value THEN false "
        "WHEN jsonb_typeof(x.value) = jsonb_typeof(y.value) THEN true "
        "ELSE NOT coalesce(" + _number("x.value") + " = " + _number("y.value")
        + ", false) END)))").format(a=a, b=b)
