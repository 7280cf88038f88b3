"""Building survey loader (建筑物普查): footprints with Chinese or English attributes."""

from __future__ import annotations

from pathlib import Path

from psycopg.types.json import Jsonb

from cim.coding.scheme import layer_code_of
from cim.errors import InputError
from cim.layerdefs import BUILDINGS
from cim.profile import CityProfile
from loaders.bulk import EWKB
from loaders.common import (
    ClassLookup,
    check_attrs,
    content_hash,
    reject_record,
    row_attrs,
    source_keys,
)
from loaders.fields import ValueProblem, all_matches, as_float, as_int, as_text, as_year
from loaders.geometry import ewkb, prepare
from loaders.pipeline import LoadContext, run_load
from loaders.read import Batch
from loaders.report import LoadReport, Reject

PARSERS = {
    "name": lambda v: as_text(v, 200),
    "structure": lambda v: as_text(v, 50),
    "floors_above": lambda v: as_int(v, 0, 300),
    "floors_below": lambda v: as_int(v, 0, 30),
    "height": lambda v: as_float(v, 0, 1000),
    "year_built": as_year,
}


def id_fields(ctx: LoadContext) -> list[str]:
    """The mapped id field first, then any other id-like fields of the source."""
    first = [ctx.mapping["source_id"]] if "source_id" in ctx.mapping else []
    aliases = ctx.profile.field_aliases.get("buildings", {}).get("source_id", [])
    return first + [f for f in all_matches(ctx.source.fields, aliases) if f not in first]


def make_converter(profile: CityProfile, seen: dict | None = None):
    """The batch converter; ``seen`` (if given) receives what the load found out about fields.

    Required for a building: a polygonal geometry. Attributes are optional: a source with no
    recognised field loads with every feature keyed by its geometry, attributes kept in attrs.
    """
    uses = ClassLookup(profile, "building_use")
    other = next((r for r in uses.rows if r["code"] == "99"), uses.rows[-1])

    def convert(batch: Batch, ctx: LoadContext) -> tuple[list[tuple], list[Reject]]:
        cols, m = batch.columns, ctx.mapping
        if seen is not None:
            seen["mapped"] = dict(m)
            seen["fields"] = list(ctx.source.fields)
        prep = prepare(batch.geometries, ctx.transformer, "polygon")
        keys = source_keys(ctx.dataset, [(f, cols[f]) for f in id_fields(ctx)], prep.geoms)
        wkbs = ewkb(prep.geoms, ctx.srid)
        rows: list[tuple] = []
        rejects: list[Reject] = []
        for i in range(len(batch.geometries)):
            row_no = batch.first_row + i
            attrs = row_attrs(cols, i)
            if prep.reject[i] is not None:
                reason, msg = prep.reject[i]
                rejects.append(reject_record(row_no, reason, msg, attrs, batch.geometries[i],
                                             keys[i] if prep.geoms[i] is not None else None))
                continue
            vals: dict[str, object] = {}
            bad = None
            for attr, parse in PARSERS.items():
                src = m.get(attr)
                if src is None:
                    vals[attr] = None
                    continue
                try:
                    vals[attr] = parse(cols[src][i])
                except ValueProblem as exc:
                    bad = (src, str(exc))
                    break
            if bad is None:
                bad = check_attrs(cols, i)
            if bad:
                rejects.append(reject_record(
                    row_no, "bad_value", f"field {bad[0]!r}: {bad[1]}", attrs,
                    batch.geometries[i], keys[i], field=bad[0]))
                continue
            flags = list(prep.flags[i])
            raw_use = cols[m["use"]][i] if "use" in m else None
            use = uses.find(raw_use)
            if use is None:
                use = other
                flags.append("use_missing" if raw_use is None or str(raw_use).strip() == ""
                             else "use_unmapped")
            values = (vals["name"], use["code"], use["name"], vals["structure"],
                      vals["floors_above"], vals["floors_below"], vals["height"],
                      vals["year_built"])
            rows.append((row_no, keys[i], content_hash(values, wkbs[i]),
                         Jsonb(attrs), flags, EWKB(wkbs[i]),
                         use["code"], None, *values, None, None))
        return rows, rejects

    return convert


def load_buildings(conninfo: str, profile: CityProfile, path: str | Path, **kw) -> LoadReport:
    seen: dict = {}
    try:
        report = run_load(conninfo, profile, BUILDINGS, layer_code_of(profile, "buildings"),
                          make_converter(profile, seen), path,
                          aliases=profile.field_aliases.get("buildings", {}), **kw)
    except InputError as exc:
        if exc.path is not None:
            raise
        # a problem of the input raised where the file is not known (CRS detection, the
        # merge): name the file all the same
        raise type(exc)(exc.message, path=str(path), row=exc.row, field=exc.field) from exc
    if not seen.get("mapped"):
        fields = ", ".join(seen.get("fields") or []) or "none"
        report.notes.append(f"no attribute field was recognised (source fields: {fields}); "
                            "features are keyed by their geometry and the attributes kept "
                            "in attrs — use --mapping to name the fields")
    return report

