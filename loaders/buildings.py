"""Building survey loader (建筑物普查): footprints with Chinese or English attributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cim.coding.scheme import layer_code_of
from cim.errors import InputError
from cim.layerdefs import BUILDINGS
from cim.profile import CityProfile
from loaders.common import (
    ClassLookup,
    attrs_json,
    check_attrs_batch,
    content_hashes,
    reject_record,
    row_attrs,
    source_keys,
)
from loaders.engine.bulk import JsonText
from loaders.engine.pipeline import LoadContext, run_load
from loaders.engine.report import LoadReport, Reject
from loaders.engine.rows import StagedRows
from loaders.fields import all_matches, is_blank, numbers, texts, years
from loaders.geometry import ewkb, prepare
from loaders.sources.read import Batch

PARSERS = {
    "name": lambda c: texts(c, 200),
    "structure": lambda c: texts(c, 50),
    "floors_above": lambda c: numbers(c, 0, 300, integer=True),
    "floors_below": lambda c: numbers(c, 0, 30, integer=True),
    "height": lambda c: numbers(c, 0, 1000),
    "year_built": years,
}


def id_fields(ctx: LoadContext) -> list[str]:
    """The mapped id field first, then any other id-like fields of the source."""
    first = [ctx.mapping["source_id"]] if "source_id" in ctx.mapping else []
    aliases = ctx.profile.field_aliases.get("buildings", {}).get("source_id", [])
    return first + [f for f in all_matches(ctx.source.fields, aliases) if f not in first]


def make_converter(profile: CityProfile):
    """The batch converter.

    Required for a building: a polygonal geometry. Attributes are optional: a source with no
    recognised field loads with every feature keyed by its geometry, attributes kept in attrs.
    Columns are parsed whole (loaders.fields column functions); rows are touched one by one
    only to be rejected.
    """
    uses = ClassLookup(profile, "building_use")
    other = next((r for r in uses.rows if r["code"] == "99"), uses.rows[-1])

    def convert(batch: Batch, ctx: LoadContext) -> tuple[StagedRows, list[Reject]]:
        cols, m = batch.columns, ctx.mapping
        n = len(batch.geometries)
        prep = prepare(batch.geometries, ctx.transformer, "polygon")
        keys = source_keys(ctx.dataset, [(f, cols[f]) for f in id_fields(ctx)], prep.geoms)
        wkbs = ewkb(prep.geoms, ctx.srid)
        # problems per row, the first one found wins: geometry, then attributes in order
        problem: dict[int, tuple[str, str, str | None]] = {
            i: (r[0], r[1], None) for i, r in enumerate(prep.reject) if r is not None}
        values: dict[str, np.ndarray] = {}
        for attr, parse in PARSERS.items():
            src = m.get(attr)
            if src is None:
                values[attr] = np.full(n, None, dtype=object)
                continue
            values[attr], bad = parse(cols[src])
            for i, msg in bad.items():
                if attr == "height" and np.isfinite(prep.solid_height[i]):
                    continue  # a 3D solid carries its height (below)
                problem.setdefault(i, ("bad_value", f"field {src!r}: {msg}", src))
        # LOD1 blocks: the height is the solid's; a height attribute is kept in attrs
        solid = np.flatnonzero(np.isfinite(prep.solid_height))
        values["height"][solid] = np.round(prep.solid_height[solid], 2).astype(object)
        for i, (f, msg) in check_attrs_batch(cols).items():
            problem.setdefault(i, ("bad_value", f"field {f!r}: {msg}", f))
        raw_use = cols[m["use"]] if "use" in m else np.full(n, None, dtype=object)
        found = {v: uses.find(v) for v in pd.unique(pd.Series(raw_use, dtype=object))}
        use = [found[v] for v in raw_use]
        use_code = np.array([u["code"] if u else other["code"] for u in use], dtype=object)
        use_name = np.array([u["name"] if u else other["name"] for u in use], dtype=object)
        flags = prep.flags
        for i in np.flatnonzero([u is None for u in use]):
            v = raw_use[i]
            flags[i] = flags[i] + ["use_missing" if is_blank(v) or str(v).strip() == ""
                                   else "use_unmapped"]
        parsed = {"name": values["name"], "use_code": use_code, "use_name": use_name,
                  "structure": values["structure"], "floors_above": values["floors_above"],
                  "floors_below": values["floors_below"], "height": values["height"],
                  "year_built": values["year_built"]}
        hashes = content_hashes(parsed, wkbs)
        attrs = attrs_json(cols, n)
        keep = np.ones(n, dtype=bool)
        rejects: list[Reject] = []
        for i, (reason, msg, field) in sorted(problem.items()):
            keep[i] = False
            rejects.append(reject_record(
                batch.first_row + i, reason, msg, row_attrs(cols, i), batch.geometries[i],
                keys[i] if prep.geoms[i] is not None else None, field=field))
        idx = np.flatnonzero(keep)
        rows = StagedRows.from_columns(BUILDINGS, {
            "row_no": (batch.first_row + idx).tolist(),
            "source_key": np.asarray(keys, dtype=object)[idx],
            "row_hash": hashes[idx].tolist(),
            "attrs": [JsonText(attrs[i]) for i in idx],
            "flags": [flags[i] for i in idx],
            "geom": wkbs[idx],  # bytes: COPY uses the geometry dumper by oid
            "class_code": use_code[idx],
            **{c: v[idx] for c, v in parsed.items()}})
        return rows, rejects

    return convert


def load_buildings(conninfo: str, profile: CityProfile, path: str | Path, **kw) -> LoadReport:
    try:
        report = run_load(conninfo, profile, BUILDINGS, layer_code_of(profile, "buildings"),
                          make_converter(profile), path,
                          aliases=profile.field_aliases.get("buildings", {}), **kw)
    except InputError as exc:
        if exc.path is not None:
            raise
        # a problem of the input raised where the file is not known (CRS detection, the
        # merge): name the file all the same
        raise type(exc)(exc.message, path=str(path), row=exc.row, field=exc.field) from exc
    return report

