"""Pieces every converter uses: source keys, content hashes (``loaders.hashing``), value
dictionaries, reject records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from cim.dictionary_csv import index_rows
from cim.profile import CityProfile
from cim.text import ID_UNSEEN, id_form, norm_key
from loaders.engine.report import Reject
from loaders.fields import is_blank
from loaders.geometry import geometry_keys
from loaders.hashing import content_hash, content_hashes  # noqa: F401 (the one recipe)
from loaders.jsonb import ordered_keys

# an attribute value longer than this is refused (whatever the field): it is no survey value
MAX_ATTR_CHARS = 10_000


def jsonable(v: Any) -> Any:
    if is_blank(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return str(v)  # JSON has no NaN/Infinity; PostgreSQL jsonb refuses them
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, str):
        return v.replace("\x00", "")  # jsonb cannot hold NUL (check_attrs rejects the row)
    if isinstance(v, (int, float, bool)):
        return v
    return str(v)


def check_attrs(columns: dict[str, np.ndarray], i: int,
                max_chars: int = MAX_ATTR_CHARS) -> tuple[str, str] | None:
    """(field, problem) for the first attribute of row ``i`` that cannot be stored, else None."""
    for name, col in columns.items():
        v = col[i]
        if isinstance(v, (bytes, bytearray)) and len(v) > max_chars // 2:
            return name, f"binary value of {len(v):,} bytes is longer than {max_chars // 2:,}"
        if not isinstance(v, str):
            continue
        if len(v) > max_chars:
            return name, f"text of {len(v):,} characters is longer than {max_chars:,}"
        if "\x00" in v:
            return name, "text contains a NUL character"
    return None


def row_attrs(columns: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    return {k: j for k, v in columns.items()
            if (j := jsonable(v[i])) is not None or not unnamed_field(k)}


def unnamed_field(name: str) -> bool:
    """Whether ``name`` is GDAL's for a column without a header (``field_N``: a CSV's trailing
    separator, 编号,名称,WKT,). Such a column holds an attribute only in the rows it has a
    value in: ``{"field_5": null}`` in every row, and the same delivery saved without the
    separator gave every feature a new version."""
    n = name[6:]
    return name.startswith("field_") and n.isascii() and n.isdigit()  # (as the regex's \d)


def id_column(batch, name: str) -> np.ndarray | pa.Array:
    """An id field's values for :func:`source_keys`: as Arrow read them where the batch holds
    them so (its blank ids told in Arrow, no pandas strings), else the batch's column."""
    col = batch.attribute(name)
    return col if col is not None else batch.columns[name]


def source_keys(dataset: str, id_columns: list[tuple[str, np.ndarray | pa.Array]],
                geoms: np.ndarray | None, n: int | None = None) -> list[str | None]:
    """What keeps a feature's code across reloads.

    ``dataset:id`` from the first id field; where it is blank, ``dataset:field=id`` from a
    further id field (OSM extracts fill osm_id or osm_way_id); else ``dataset:g<hash>`` of the
    geometry rounded to 1 mm. Built column by column (NumPy object arrays, or Arrow text
    arrays as read). Without ``geoms`` (``n`` rows), a row without an id has no key (None):
    the keys a reload can tell before converting.
    """
    n = len(geoms) if geoms is not None else int(n or 0)
    out = np.full(n, None, dtype=object)
    todo = np.ones(n, dtype=bool)
    for j, (name, col) in enumerate(id_columns):
        idx = np.flatnonzero(todo)
        if not len(idx):
            break
        if isinstance(col, pa.Array):
            ids = _id_texts(col if len(idx) == len(col) else col.take(pa.array(idx)))
        else:
            ids = _id_texts(np.asarray(col, dtype=object)[idx])
        hit = ids != None  # noqa: E711  (object array comparison)
        head = f"{dataset}:" if j == 0 else f"{dataset}:{name}="
        out[idx[hit]] = head + ids[hit]
        todo[idx[hit]] = False
    rest = np.flatnonzero(todo)
    if len(rest) and geoms is not None:
        g = np.asarray(geoms, dtype=object)[rest]
        gk = geometry_keys(np.where(shapely.is_missing(g), shapely.Point(), g))
        out[rest] = [f"{dataset}:{k}" for k in gk]
    return out.tolist()


def id_keys(dataset: str, id_columns: list[tuple[str, np.ndarray | pa.Array]], n: int
            ) -> pa.Array:
    """:func:`source_keys` without geometries, as an Arrow text array (null: no id) — made
    in Arrow where the id fields are text as read: a reload takes a million keys to look
    them up by fingerprint (:meth:`loaders.engine.known.Known.positions`), and making each
    one a Python string, then an Arrow text again, cost ~0.2 s of its CPU."""
    if not all(isinstance(c, pa.Array) and (pa.types.is_string(c.type)
                                            or pa.types.is_large_string(c.type))
               for _, c in id_columns):
        return pa.array(source_keys(dataset, id_columns, None, n=n), pa.string())
    out = pa.nulls(n, pa.string())
    for j, (name, col) in enumerate(id_columns):
        trimmed = _id_forms(pc.utf8_trim(col, characters=_PY_WHITESPACE).cast(pa.string()))
        blank = pc.equal(pc.utf8_length(trimmed), 0)
        ids = pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)
        head = f"{dataset}:" if j == 0 else f"{dataset}:{name}="
        out = pc.coalesce(out, pc.binary_join_element_wise(head, ids, ""))
    return out


def describe_key(dataset: str, key: str, id_field: str | None,
                 fields: Iterable[str] = (), row: int | None = None,
                 geometry: str | None = None) -> tuple[str | None, str]:
    """(field, words) of a source key of :func:`source_keys`, for a duplicate's reject: the id
    field and its value, another id field's (``field=value``, ``field`` one of the delivery's
    ``fields``: an id 井=7 is no field 井's), or the geometry a row without an id is keyed
    by (``geometry``: the source's geometry field). ``row``: the file row that has the key
    first (None: unknown) — the staged writer names it too."""
    rest = key[len(dataset) + 1:] if key.startswith(dataset + ":") else key
    earlier = "an earlier row" if row is None else f"row {row}"
    if len(rest) == 21 and rest[0] == "g" and all(c in "0123456789abcdef" for c in rest[1:]):
        return geometry, (f"the same geometry as {earlier} (a row without an id is keyed by "
                          "its geometry)")
    name, eq, value = rest.partition("=")
    if eq and name and name != id_field and name in set(fields):
        return name, f"duplicate {name} {value!r} ({earlier} has it)"
    return id_field, f"duplicate source id {rest!r} ({earlier} has it)"


# what Python's str.strip() strips: an id of these characters only is blank
_PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
                  "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _id_texts(values: np.ndarray | pa.Array) -> np.ndarray:
    """An id's text (a whole float without its .0), without the blanks around it (``Q-01 ``
    is Q-01: two keys for one parcel got two codes), None where blank. ``values`` may be a
    text column as Arrow read it: tested there, without building pandas strings."""
    if isinstance(values, pa.Array):
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            return _id_texts(np.asarray(values.to_pandas(), dtype=object))
        trimmed = _id_forms(pc.utf8_trim(values, characters=_PY_WHITESPACE))
        blank = pc.fill_null(pc.equal(pc.utf8_length(trimmed), 0), True)
        out = np.asarray(trimmed.to_numpy(zero_copy_only=False), dtype=object)
        out[blank.to_numpy(zero_copy_only=False)] = None
        return out
    out = np.full(len(values), None, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        s = pd.Series(id_forms_objects(pd.Series(values, dtype=object).str.strip()
                                       .to_numpy(dtype=object)), dtype=object)
        ok = (s.notna() & (s != "")).to_numpy(dtype=bool)
        out[ok] = s.to_numpy(dtype=object)[ok]
        return out
    for i, v in enumerate(values):
        if not is_blank(v):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            out[i] = id_form(f"{v}") or None
    return out


def id_forms_objects(values: np.ndarray) -> np.ndarray:
    """:func:`cim.text.id_form` of an object array of texts (None or NaN where none): the ids
    to change found in Arrow (a Python call an id cost 2–3 s a million Chinese ids)."""
    arr = pa.array(values, pa.string(), from_pandas=True)
    fixed = _id_forms(arr)
    if fixed is arr:
        return values
    return np.asarray(fixed.to_numpy(zero_copy_only=False), dtype=object)


def _id_forms(ids: pa.Array) -> pa.Array:
    """:func:`cim.text.id_form` of an Arrow text column: only its ids holding a full-width or
    an invisible character are made Python strings (most columns are ASCII: one pass)."""
    if pc.all(pc.string_is_ascii(ids)).as_py() is not False:
        return ids
    odd = pc.fill_null(pc.match_substring_regex(ids, ID_UNSEEN), False)
    if not pc.any(odd).as_py():
        return ids
    fixed = pa.array([id_form(v) for v in pc.filter(ids, odd).to_pylist()], ids.type)
    return pc.replace_with_mask(ids, odd, fixed)


def delivered_wkt(geom) -> str | None:
    """A delivered geometry as a reject keeps it: WKT at full precision, in the delivery's
    CRS and axis order as read (None without one)."""
    if geom is None:
        return None
    try:
        return shapely.to_wkt(geom, rounding_precision=-1)
    except shapely.errors.GEOSException:  # a geometry GEOS cannot write: kept without it
        return None


def delivered_wkts(geoms: np.ndarray) -> list[str | None]:
    """:func:`delivered_wkt` of a batch's geometries as read, in one call (staged rows carry
    them, for the rejects the SQL merge decides: ``loaders.engine.rows.DELIVERED``)."""
    geoms = np.asarray(geoms, dtype=object)
    try:
        return shapely.to_wkt(geoms, rounding_precision=-1).tolist()
    except shapely.errors.GEOSException:
        return [delivered_wkt(g) for g in geoms]


def name_unread_geometries(batch: Any, rejects: list) -> list:
    """``rejects`` with each row whose geometry text GDAL could not read (a CSV's malformed
    WKT, :meth:`loaders.sources.read.Batch.unread_geometries`) rejected as what it is: an
    ``invalid_geometry`` naming the field, its text kept in the reject's attrs — not a
    feature "with no geometry" whose text is gone."""
    if not rejects:  # nothing decoded for a batch without one (a reload skips most)
        return rejects
    unread = batch.unread_geometries() if hasattr(batch, "unread_geometries") else {}
    refused: dict[int, str] = {}
    curved: set[int] = set()
    if hasattr(batch, "positions"):  # only the rejected rows' WKB is looked at
        pos = batch.positions([r.row_number for r in rejects if r.row_number is not None])
        empty = [pos[r.row_number] for r in rejects
                 if r.reason == "empty_geometry" and r.row_number in pos]
        refused = batch.refused_geometries(empty)
        curved = {batch.row(p) for p in batch.curved(sorted(set(pos.values())))}
    for r in rejects:  # the geometry a reject keeps is GDAL's straightened one: said
        if r.row_number in curved and "curve_linearized" not in r.message:
            r.message += (" (curve_linearized: its curves were straightened by GDAL, and the "
                          "reject keeps the straightened geometry)")
    if not unread and not refused:
        return rejects
    by_row = {batch.row(p): t for p, t in unread.items()}
    geos = {batch.row(p): t for p, t in refused.items()}
    f = batch.geometry_field
    for r in rejects:
        if r.reason != "empty_geometry":
            continue
        t = by_row.get(r.row_number)
        if t is not None:
            r.reason, r.field = "invalid_geometry", f
            r.message = f"field {f!r}: {t[:200]!r} is no geometry GDAL can read (WKT expected)"
            r.attrs = {**r.attrs, f: t}
            continue
        t = geos.get(r.row_number)
        if t is not None:  # kept as delivered, in the reject's geometry text
            r.reason, r.field = "invalid_geometry", f or "geometry"
            r.message = (f"{t[:200]} is no usable geometry (a line needs two points, a ring "
                         "four): redraw it")
            r.geom_wkt = t
    return rejects


def geometry_field(source) -> str:
    """The field a geometry problem names in a reject: a CSV's WKT column as delivered, else
    "geometry" (as the pipe loaders name it; a reject named no field before)."""
    return getattr(source, "geometry_field", None) or "geometry"


def reject_record(row_no: int, reason: str, message: str, attrs: dict, geom,
                  source_key: str | None = None, field: str | None = None) -> Reject:
    return Reject(row_number=row_no, reason=reason, message=message, field=field,
                  source_key=source_key, attrs=attrs, geom_wkt=delivered_wkt(geom))


class ClassLookup:
    """Class code by name, alias or code from a profile dictionary (compared with
    :func:`cim.text.norm_key`: spaces, full width and case do not matter)."""

    def __init__(self, profile: CityProfile, dictionary: str) -> None:
        self.rows = profile.dictionary(dictionary)
        for row in self.rows:
            row["code"]  # noqa: B018 — a copy without the key column is told so, naming it
        # a dictionary's other code systems are aliases too (land_use.csv's GB 50137 codes:
        # R12, R22, RB are 0702 though its aliases did not repeat them); a key naming two
        # rows is refused
        self.by_key = index_rows(self.rows, ("code", "name", "name_zh", "type_code"),
                                 ("aliases", "gb50137"), secondary=("name_en",))
        # a spreadsheet or a numeric field drops a code's leading zeros (道路等级 02 → 2): the
        # digits are read at the codes' width when every numeric code has the same one
        widths = {len(c) for r in self.rows if (c := (r.get("code") or "").strip()).isdigit()}
        self.width = widths.pop() if len(widths) == 1 else 2

    def find(self, value: Any) -> dict[str, str] | None:
        if is_blank(value):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        s = norm_key(value)
        found = self.by_key.get(s)
        if found is None and s.isascii() and s.isdigit() and len(s) < self.width:
            found = self.by_key.get(s.zfill(self.width))
        return found


# -- whole batches (the fast path of converters; same results as the row functions above) --
# kinds whose distinct values are encoded once (a float column is encoded value by value:
# -0.0 and 0.0 are one value to pandas but not to JSON)
_DISTINCT_JSON = ("string", "empty", "integer", "boolean")


def _json_fragments(prefix: str, col: np.ndarray) -> pa.Array:
    """``prefix`` + the JSON of each value as :func:`row_attrs` keeps it, one per row (an
    Arrow string array)."""
    def enc(v: Any) -> str:
        j = jsonable(v)
        # a text as json.dumps(…, ensure_ascii=False) writes it, without its overhead
        return prefix + (encode_basestring(j) if isinstance(j, str)
                         else json.dumps(j, ensure_ascii=False))

    kind = pd.api.types.infer_dtype(col, skipna=True)
    if kind in _DISTINCT_JSON:
        codes, uniques = pd.factorize(pd.Series(col, dtype=object))
        texts = _json_texts(prefix, uniques, enc) if kind == "string" else \
            pa.array([enc(u) for u in uniques], pa.string())
        table = pa.concat_arrays([texts, pa.array([prefix + "null"], pa.string())])
        return table.take(pa.array(np.where(codes < 0, len(uniques), codes)))
    return pa.array([enc(v) for v in col], pa.string())


# a text that is certainly not blank (has a letter or digit, none of which is whitespace to
# str.strip) and needs no JSON escape (no quote, backslash or control character): its JSON is
# itself between quotes
_PLAIN_TEXT = r"^[^\x00-\x1f\x7f\"\\]*[0-9A-Za-z\x{3400}-\x{9fff}][^\x00-\x1f\x7f\"\\]*$"


def _json_texts(prefix: str, texts: np.ndarray, enc) -> pa.Array:
    """``enc`` of each distinct text, the plain ones (a column of ids: every row) quoted in
    Arrow instead of one Python call each."""
    arr = pa.array(texts, pa.string())
    plain = pc.match_substring_regex(arr, _PLAIN_TEXT)
    quoted = pc.binary_join_element_wise(prefix + '"', arr, '"', "")
    other = np.flatnonzero(~plain.to_numpy(zero_copy_only=False))
    if not len(other):
        return quoted
    slow = np.full(len(texts), None, dtype=object)
    slow[other] = [enc(texts[i]) for i in other.tolist()]
    return pc.if_else(plain, quoted, pa.array(slow, pa.string()))


def attrs_json_arrow(columns: dict[str, np.ndarray], n: int) -> pa.Array:
    """One JSON object text per row (``n`` rows) with the source attributes, as an Arrow
    string array: the text of ``json.dumps(row_attrs(columns, i), ensure_ascii=False)`` with
    its keys in jsonb's order (:mod:`loaders.jsonb`: the text the server gives back), built
    column by column (each distinct text or integer of a column encoded once) and joined in
    Arrow — no Python text a row (a million components' attrs took ~0.8 s of conversion as
    Python texts)."""
    if not columns:
        return pa.array(np.full(n, "{}", dtype=object), pa.string())
    parts: list[Any] = ["{"]
    for k in ordered_keys(columns):
        if len(parts) > 1:
            parts.append(", ")
        parts.append(_json_fragments(json.dumps(k, ensure_ascii=False) + ": ", columns[k]))
    out = pc.binary_join_element_wise(*parts, "}", "")
    if any(unnamed_field(k) for k in columns):  # (rare) such a key left out where null: a
        # key's text has its quotes bare, a value's are escaped — only keys match
        for pattern, by in ((r', "field_\d+": null', ""), (r'\{"field_\d+": null, ', "{"),
                            (r'\{"field_\d+": null\}', "{}")):
            out = pc.replace_substring_regex(out, pattern=pattern, replacement=by)
    return out


def attrs_json(columns: dict[str, np.ndarray], n: int) -> list[str]:
    """:func:`attrs_json_arrow` as Python texts (for a converter that rewrites some rows')."""
    if not columns:
        return ["{}"] * n
    return attrs_json_arrow(columns, n).to_pylist()


def _plainly_storable(arr: pa.Array, max_chars: int) -> bool:
    """Whether no text of ``arr`` can be too long or hold a NUL, told from its buffers alone:
    no value longer than ``max_chars`` bytes (a character is at least one) and no zero byte
    in its data — every delivered column but a freak one, at ~1/10 of testing each value."""
    if not len(arr):
        return True
    _, offsets, data = arr.buffers()
    at = np.frombuffer(offsets, dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    if int(np.diff(at).max()) > max_chars:
        return False
    if data is None:
        return True
    return not (np.frombuffer(data, dtype=np.uint8)[at[0]:at[-1]] == 0).any()


def check_attrs_batch(columns: Mapping[str, np.ndarray], max_chars: int = MAX_ATTR_CHARS,
                      arrow: pa.RecordBatch | None = None) -> dict[int, tuple[str, str]]:
    """{row index: (field, problem)} for rows with a value that cannot be stored.

    ``arrow``: the batch as read, when ``columns`` are its columns: text and number columns
    are then tested in Arrow, without building pandas strings."""
    suspects: set[int] = set()
    for name in columns:  # a column tested in Arrow is never converted (Batch.columns)
        arr = arrow.column(name) if arrow is not None and name in arrow.schema.names \
            else None
        if arr is not None and (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
                                or pa.types.is_boolean(arr.type) or pa.types.is_null(arr.type)):
            continue
        if arr is not None and pa.types.is_string(arr.type):
            if _plainly_storable(arr, max_chars):
                continue
            bad = pc.or_(pc.greater(pc.utf8_length(arr), max_chars),
                         pc.match_substring(arr, "\x00"))
            suspects.update(np.flatnonzero(
                pc.fill_null(bad, False).to_numpy(zero_copy_only=False)).tolist())
            continue
        col = columns[name]
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind in ("integer", "floating", "mixed-integer-float", "boolean", "empty"):
            continue
        s = pd.Series(col, dtype=object)
        if kind == "string":
            lengths = s.str.len().to_numpy(dtype=float, na_value=0)
            nul = s.str.contains("\x00", regex=False).to_numpy(dtype=bool, na_value=False)
            suspects.update(np.flatnonzero((lengths > max_chars) | nul).tolist())
        else:  # bytes or mixed: check row by row
            suspects.update(range(len(s)))
    out = {}
    for i in sorted(suspects):
        bad = check_attrs(columns, i, max_chars)
        if bad:
            out[i] = bad
    return out

