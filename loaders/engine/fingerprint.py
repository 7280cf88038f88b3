"""What a reload can tell of a source row before converting it: its key and fingerprint.

A reload of a million features with 1 % changed spent nearly all its time converting the
990,000 unchanged ones only to find their content hash equal (docs/benchmarks.md). The
fingerprint (``loaders.hashing.source_fingerprints``, stored in ``source_hash``) is taken of
the raw row as read, mixed with everything else the conversion depends on — the converter's
version, the field mapping, the source CRS, the storage SRID, the load options and the
dictionaries the converter reads — so that equal fingerprints mean an equal conversion. A
converter that changes what it produces must change its ``version``: otherwise a reload would
keep rows the new converter would write differently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from loaders.common import source_keys
from loaders.hashing import source_fingerprints
from loaders.sources.read import Batch

Fingerprint = Callable[[Batch, Any], tuple[list[str | None], np.ndarray]]


def make_fingerprint(layer: str, version: str, id_fields: Callable[[Any], list[str]],
                     dictionaries: Callable[[Any], Any]) -> Fingerprint:
    """A loader's fingerprint function ``(batch, ctx) → (keys, fingerprints)``: the keys of
    the rows with an id (None for a row keyed by its geometry: never skipped); no keys at all
    (None) with ``with_keys=False``."""
    contexts: dict[int, str] = {}

    def fingerprint(batch: Batch, ctx: Any, with_keys: bool = True
                    ) -> tuple[list[str | None] | None, np.ndarray]:
        context = contexts.get(id(ctx))
        if context is None:
            context = contexts[id(ctx)] = json.dumps(
                [layer, version, ctx.mapping, ctx.source_crs.to_wkt(), ctx.srid,
                 ctx.options, dictionaries(ctx)],
                ensure_ascii=False, sort_keys=True, default=str)
        n = len(batch)
        keys = None
        if with_keys:
            ids = [(f, batch.attribute(f)) for f in id_fields(ctx)]
            keys = source_keys(ctx.dataset, [(f, c if c is not None else batch.columns[f])
                                             for f, c in ids], None, n=n)
        if batch.arrow is not None:  # as read: the Arrow arrays themselves
            return keys, source_fingerprints(batch.arrow, None, context)
        wkb = batch.wkb if batch.wkb is not None else shapely.to_wkb(batch.geometries)
        return keys, source_fingerprints(batch.columns, wkb, context)

    return fingerprint
