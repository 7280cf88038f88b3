"""The direct write of a layer: every decision taken beside the data, rows COPYed once.

The staged path (:mod:`loaders.engine.bulk`) COPYs every row into a staging table and decides
in SQL (district and grid joins, duplicates, unchanged features, codes), then copies the
survivors into the layer: each row crosses the server two or three times. Here a converter
(:class:`DirectConverter`, in processes of its own when the input is large, so that Python and
PostgreSQL work at the same time on two cores; :mod:`loaders.engine.workers`) decides
everything per batch and hands over ready binary COPY buffers:

- district and grid cell from an STRtree of the current boundaries (the same rule as the SQL
  join: an area covering the feature, the lowest code when several do; else the area with
  the larger share of it — a grid cell of its own district first; none: ``outside_area``),
  the shares measured only for the features the areas do not answer for whole
  (:meth:`AreaIndex.place`);
- duplicates (a source key seen on an earlier row of the delivery) rejected in row order;
- unchanged features (same source key and content hash as the current version) left out,
  changed ones keep their code, returning ones (retired, coded before) get their old code
  back from the registry, new ones a code of their prefix;
- the layer's rows and the registry's rows as binary COPY data (:mod:`loaders.engine.rowsbuf`
  with :mod:`loaders.engine.copybuf`), new codes left as placeholders that the writer fills
  once it has bumped the counters (:func:`cim.coding.allocator.reserve_serials`, in the load's
  transaction): the converter hands their prefixes over factorized, so that the writer, on
  the load's critical path, does NumPy work only and patches the buffers without copying.

The converter's CPU bounds the load (two processes on two cores), so its per-batch work is
done on whole columns: a Python call per row costs as much as the rest of a batch.

The writer (:class:`loaders.engine.direct_writer.DirectWriter`) holds the layer's merge lock
from the start (what is current cannot change under the load), retires the changed features'
current versions and COPYs straight into the layer and the registry; the layer's indexes are
maintained as rows go in, except on an initial load, which builds them after its rows
(:mod:`loaders.engine.indexes`) — readers never wait either way. Everything is one
transaction: a killed load leaves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cim.coding import registry
from cim.coding.scheme import COMPONENT_SERIAL_WIDTH, FEATURE_SERIAL_WIDTH
from cim.layerdefs import LayerDef
from loaders.common import name_unread_geometries
from loaders.engine import rowsbuf, samegeom
from loaders.engine.converted import Converted, DirectBatch, Skipped
from loaders.engine.known import Known, fetch_known  # noqa: F401
from loaders.engine.places import AreaIndex, Areas, areas_digest, fetch_areas  # noqa: F401
from loaders.engine.report import Reject
from loaders.engine.seenkeys import Part, SeenKeys
from loaders.engine.workers import converted_batches  # noqa: F401


def _file_rows(batch) -> np.ndarray:
    """The file's row number of each of the batch's features (1-based), -1 each where the
    batch holds records of its own (a pipe survey's chunk: its rejects name table and row)."""
    n = len(batch)
    first = getattr(batch, "first_row", None)
    if first is None:
        return np.full(n, -1, dtype=np.int64)
    rows = getattr(batch, "rows", None)
    return np.asarray(rows, dtype=np.int64) if rows is not None \
        else first + np.arange(n, dtype=np.int64)


def serial_width(layer: LayerDef) -> int:
    if layer.code_scheme == "feature":
        return FEATURE_SERIAL_WIDTH
    if layer.code_scheme == "component":
        return COMPONENT_SERIAL_WIDTH
    raise ValueError(f"the direct write codes feature and component layers, not "
                     f"{layer.code_scheme}")


def layer_copy_columns(layer: LayerDef) -> list[str]:
    return ["code", "source_key", "batch_id", "row_hash", "source_hash", "flags", "attrs",
            "geom"] + layer.column_names()


REGISTRY_COLUMNS = registry.COLUMNS  # the order of a batch's registry buffer


# -- the converter ---------------------------------------------------------------------------
def place_field(batch) -> str:
    """The field an outside_area or no_grid_cell reject names: what placed the feature — a
    CSV's WKT column, a survey table's X/Y columns (``X坐标/Y坐标``: the batch's
    ``geometry_field``), else the geometry (:func:`loaders.common.geometry_field`, the one
    rule the staged loads follow too)."""
    from loaders.common import geometry_field

    return geometry_field(batch)


class DirectConverter:
    """Source batches → :class:`DirectBatch` (runs in the converter process)."""

    def __init__(self, layer: LayerDef, layer_code: str | None,
                 convert: Callable[[Any], Converted], known: Known, areas: Areas,
                 batch_id: int, srid: int, mode: str, district: str | None,
                 row_attrs: Callable[[Any, int], dict], reject_record: Callable[..., Reject],
                 fingerprint: Callable[[Any], tuple[list, np.ndarray]] | None = None,
                 describe_key: Callable[[str], tuple[str | None, str]] | None = None):
        self.layer, self.layer_code, self.convert = layer, layer_code or "", convert
        # (field, words) of a duplicate's key and the file row that has it (None: unknown)
        # (loaders.common.describe_key)
        self.describe_key = describe_key or (
            lambda k, row=None: (None, f"duplicate source id {k} "
                                 f"({'an earlier row' if row is None else f'row {row}'} has it)"))
        self.fingerprint = fingerprint
        self.known, self.areas = known, areas
        self.batch_id, self.srid, self.mode, self.district = batch_id, srid, mode, district
        self.row_attrs, self.reject_record = row_attrs, reject_record
        self.width = serial_width(layer)
        self.seen = SeenKeys()  # accepted keys that are no current key of Known
        # accepted keys that are: by row of Known, the file row that took each (_first_rows)
        self._seen_rows: np.ndarray | None = None
        self.places = AreaIndex(areas)

    def _reject(self, batch, i: int, reason: str, message: str, key: str | None,
                field: str | None = None) -> Reject:
        return self.reject_record(batch.row(i), reason, message,
                                  self.row_attrs(batch.columns, int(i)), batch.geometries[i],
                                  key, **({"field": field} if field is not None else {}))

    def _duplicate(self, batch, i: int, key: str, earlier: int) -> Reject:
        """A repeated key's reject, naming the row that has it (``earlier``: its file row;
        -1 or 0 unknown — a delivery whose batches hold records, not rows of a file)."""
        field, words = self.describe_key(key, earlier if earlier > 0 else None)
        return self._reject(batch, i, "duplicate_source_id", words, key, field)

    def _still_repeated(self, batch, i: int, key: str) -> Reject:
        """A rejects export's row, rejected for repeating another row's id, loaded again with
        that id: it named the feature the other row loaded, whose content it took over (and
        that feature, a real one, left the current layer)."""
        field, words = self.describe_key(key, None)
        return self._reject(
            batch, i, "duplicate_source_id",
            f"{words.rsplit(' (', 1)[0]}: still the id of a current feature (the row this one "
            "repeated was loaded under it), this row was rejected for repeating it — give it "
            "its own id, or blank its cim_reason to let it replace that feature", key, field)

    def __call__(self, batch) -> DirectBatch:
        return self.finish(batch, self.prepare(batch))

    def unconverted(self, batch) -> tuple[np.ndarray | None, Skipped, np.ndarray | None]:
        """The batch's source fingerprints (None if the loader keeps none), the rows a
        reload can call unchanged before converting them — their key (known before
        converting: an id) has a current version with the same fingerprint, whose content is
        of this load's conversion, and no other row of the batch has that key (duplicates are
        decided in row order, converted) — and which rows have such a key (None: all)."""
        if self.fingerprint is None:
            return None, Skipped.none(), None
        known = self.known
        # the keys serve only a reload (a first load has no current version to compare)
        raw_keys, fps = self.fingerprint(batch, with_keys=bool(known.current))
        if not known.current or not len(fps):
            return fps, Skipped.none(), None
        keys = raw_keys if isinstance(raw_keys, pa.Array) else pa.array(raw_keys, pa.string())
        at = known.positions(keys, fps)
        ok = (at >= 0) & (at < known.current)
        ok[ok] = (known.source_hash[at[ok]] == fps[ok]) & known.of_this_conversion(at[ok])
        if ok.any():
            # a key the batch holds twice: both rows are converted. Only a known key can be
            # skipped, and known keys are equal exactly when their rows are: integers compared
            rows, counts = np.unique(at[at >= 0], return_counts=True)
            twice = rows[counts > 1]
            if len(twice):
                ok &= ~np.isin(at, twice)
        pos = np.flatnonzero(ok)
        keyed = keys.is_valid().to_numpy(zero_copy_only=False) if keys.null_count else None
        return fps, Skipped(pos, keys.take(pa.array(pos)), at[pos]), keyed

    def _nothing(self) -> Converted:
        """What converting no row gives (a reload's batch found unchanged whole)."""
        none = np.zeros(0, dtype=object)
        return Converted(index=np.zeros(0, dtype=np.int64), source_key=none, row_hash=none,
                         attrs=[], flags=[], geoms=none, ewkb=none, class_code=none,
                         columns={c: none for c in self.layer.column_names()})

    def prepare(self, batch) -> tuple:
        """The part of a batch that needs nothing of the other batches (most of the work):
        conversion, district and grid cell. A reload converts only the rows whose source
        changed (:meth:`unconverted`)."""
        fps, skipped, keyed = self.unconverted(batch)
        if len(skipped.pos):
            todo = np.setdiff1d(np.arange(len(batch)), skipped.pos,
                                assume_unique=True)
            if len(todo):
                conv = self.convert(batch.take(todo))
                conv.index = todo[conv.index]  # positions in the whole batch again
            else:
                conv = self._nothing()
        else:
            conv = self.convert(batch)
        conv.source_hash = fps[conv.index] if fps is not None else \
            np.full(len(conv.index), None, dtype=object)
        conv.skipped = skipped
        conv.keyed = keyed[conv.index] if keyed is not None else None
        rejects = name_unread_geometries(batch, list(conv.rejects))
        n = len(conv.index)
        keep = np.ones(n, dtype=bool)
        keys = conv.source_key
        layer = self.layer
        if n and (layer.assign_district or layer.assign_grid):
            di, gi = self.places.place(conv.geoms, layer.assign_district, layer.assign_grid,
                                       layer.placed_by_touch)
        dist = np.full(n, None, dtype=object)
        if layer.assign_district and n:
            codes = np.array(self.areas.district_codes + [None], dtype=object)
            dist = codes[di]  # -1: None
            outside = np.flatnonzero(di < 0)
            swapped = self._swapped_districts(conv.geoms[outside], codes) if len(outside) \
                else []
            for j, inside in zip(outside.tolist(), swapped, strict=True):
                keep[j] = False
                why = "feature lies outside every district of the city profile"
                if inside is not None:
                    why += (f"; with its X and Y exchanged it lies in district {inside} "
                            "(X is the northing, Y the easting): are they swapped?")
                rejects.append(self._reject(batch, conv.index[j], "outside_area", why,
                                            keys[j], place_field(batch)))
            if self.district:
                dist[:] = self.district
        grid = np.full(n, None, dtype=object)
        if layer.assign_grid and n:
            grid = np.array(self.areas.grid_codes + [None], dtype=object)[gi]
            if layer.require_grid:
                for j in np.flatnonzero(keep & (gi < 0)):
                    keep[j] = False
                    rejects.append(self._reject(batch, conv.index[j], "no_grid_cell",
                                                "feature lies in no unit grid cell", keys[j],
                                                place_field(batch)))
        return conv, rejects, keep, dist, grid

    def _swapped_districts(self, geoms: np.ndarray, codes: np.ndarray) -> list[str | None]:
        """The district each geometry would lie in with its coordinates exchanged (None: in
        none): a survey row whose X and Y were typed the wrong way round lies hundreds of
        kilometres away, and its reject said only "outside every district". In the storage
        CRS: a row swapped in a delivery of that CRS comes back; one of another CRS lands
        nowhere (no hint)."""
        import shapely

        back = shapely.transform(geoms, lambda c: c[:, ::-1])
        di, _ = self.places.place(back, True, False)
        return [None if d < 0 else codes[d] for d in di.tolist()]

    def finish(self, batch, prepared: tuple) -> DirectBatch:
        """The rest, in row order: duplicates (against every earlier batch's keys, see
        :meth:`saw`), unchanged and changed features, codes, COPY buffers."""
        conv, rejects, keep, dist, grid = prepared
        n = len(conv.index)
        keys = conv.source_key
        layer = self.layer
        # duplicates: the first row of a source key wins, in row order (the converted rows,
        # and those a reload left unconverted: their keys are unique in the batch, so they
        # can only repeat a key of an earlier batch, and never decide a converted row's fate).
        # A key the layer holds is told by its row in Known (an integer: a reload's 99 %
        # unconverted rows never meet a set of strings), any other by its text (see saw)
        sk = conv.skipped
        known = self.known
        seen, first = self.seen, self._first_rows()
        file_rows = _file_rows(batch)
        skipped_ok = first[sk.at] == 0 if len(sk.at) else np.ones(0, dtype=bool)
        for i in np.flatnonzero(~skipped_ok).tolist():  # usually none
            k = sk.keys[i].as_py()
            rejects.append(self._duplicate(batch, sk.pos[i], k, int(first[sk.at[i]])))
        fresh_at = sk.at[skipped_ok]
        fresh_rows = file_rows[sk.pos[skipped_ok]]
        first[fresh_at] = fresh_rows
        kept_j = np.flatnonzero(keep)
        kept_rows = file_rows[conv.index[kept_j]]
        # each kept row's row in Known (-1: not a current key), reused below
        kat = np.full(n, -1, dtype=np.int64)
        if known.current and len(kept_j):
            kat[kept_j] = known.positions(keys[kept_j])
        kk = kat[kept_j]
        is_known = kk >= 0
        other = keys[kept_j[~is_known]].tolist()
        new_other = seen.fresh(other)
        dup = []
        if (not first[kk[is_known]].any() and len(np.unique(kk[is_known])) == is_known.sum()
                and new_other.all()):
            # the usual case, decided in C: no key repeats
            first[kk[is_known]] = kept_rows[is_known]
            acc_at, acc_keys = np.concatenate([fresh_at, kk[is_known]]), other
            acc_rows = np.concatenate([fresh_rows, kept_rows[is_known]])
            acc_key_rows = kept_rows[~is_known]
        else:
            acc_at_l, acc_rows_l, acc_keys, key_rows_l = \
                fresh_at.tolist(), fresh_rows.tolist(), [], []
            o = 0  # the row's place among `other`
            for j, a, r in zip(kept_j.tolist(), kk.tolist(), kept_rows.tolist()):
                if a >= 0:
                    if first[a]:
                        dup.append(j)
                    else:
                        first[a] = r
                        acc_at_l.append(a)
                        acc_rows_l.append(r)
                    continue
                if new_other[o]:
                    acc_keys.append(keys[j])
                    key_rows_l.append(r)
                else:
                    dup.append(j)
                o += 1
            acc_at = np.asarray(acc_at_l, dtype=np.int64)
            acc_rows = np.asarray(acc_rows_l, dtype=np.int64)
            acc_key_rows = np.asarray(key_rows_l, dtype=np.int64)
        accepted = (acc_at, acc_rows, seen.take(acc_keys, acc_key_rows))
        for j in dup:
            keep[j] = False
            earlier = int(first[kat[j]]) if kat[j] >= 0 else seen.first_row(keys[j])
            rejects.append(self._duplicate(batch, conv.index[j], keys[j], earlier))
        repeated = getattr(batch, "repeated_ids", None)  # (a pipe delivery's chunk: none)
        if repeated is not None and known.current:
            for j in np.flatnonzero(keep & (kat >= 0) & (kat < known.current)).tolist():
                if repeated[conv.index[j]]:
                    keep[j] = False
                    rejects.append(self._still_repeated(batch, conv.index[j], keys[j]))
        # unchanged, changed, new
        live = np.flatnonzero(keep)
        state = np.zeros(n, dtype=np.int8)  # 0 new, 1 changed, 2 unchanged
        code = np.full(n, None, dtype=object)
        coded = np.zeros(n, dtype=bool)  # where code holds one (kept, or given back)
        refresh: tuple[list[str], list[int], list[str]] = ([], [], [])
        verified = stale_changed = np.zeros(0, dtype=np.int64)
        if known.current or known.returning is not None:
            at = kat[live]
            hit = at >= 0
            known.fill(at[hit])  # the current versions' hashes and codes of these keys
            cur = hit & (at < known.current)
            same = np.zeros(len(live), dtype=bool)
            if cur.any():
                mine = np.array(conv.row_hash[live[cur]].tolist(), dtype="S64")
                same[cur] = known.row_hash[at[cur]] == mine
                written: dict[int, str] = {}  # row → stored hash: only written otherwise
                if known.same_but_written is not None:
                    k = np.flatnonzero(cur & ~same)
                    written = samegeom.settle(known, conv.ewkb, conv.row_hash, live[k], at[k])
                    same[k] = np.isin(live[k], np.fromiter(written, np.int64, len(written)))
                eq = np.flatnonzero(same)  # the content hash aside, attrs and flags
                if len(eq):
                    texts = conv.attrs if conv.compared_attrs is None else conv.compared_attrs
                    rows_eq = live[eq].tolist()
                    own = conv.own_keys
                    same[eq] = known.same_extras(
                        at[eq], _texts(texts, rows_eq), [conv.flags[j] for j in rows_eq],
                        None if own is None else own[live[eq]],
                        None if own is None else _texts(conv.attrs, rows_eq))
                for j in live[same].tolist():  # unchanged: the hash of the row as stored
                    if j in written:
                        conv.row_hash[j] = written[j]
            state[live[cur]] = np.where(same[cur], 2, 1)
            if self.fingerprint is not None and cur.any():
                # unchanged content. Of an older conversion (a new converter version, code,
                # mapping or boundaries): its id is recorded as verified under this one
                # (load_verified), the row left as it is. Under another fingerprint (its source
                # row changed, converting to the same content; rows loaded before migration
                # 0013): the new fingerprint kept on the current version, or every later
                # reload converts it — and, for a row keyed by its geometry (converted by every
                # reload), the content hash taken from its stored row where a first load left
                # it unset, so that no later reload takes it again
                unch = live[cur][same[cur]]
                ua = at[cur][same[cur]]
                verified = ua[~known.of_this_conversion(ua)]
                ca = at[cur][~same[cur]]
                if self.mode != "append":  # (append rejects them: nothing retired)
                    stale_changed = ca[~known.of_this_conversion(ca)]
                unkeyed = ~conv.keyed[unch] if conv.keyed is not None else \
                    np.zeros(len(unch), dtype=bool)
                stale = (known.source_hash[ua] != conv.source_hash[unch]) | \
                    (known.rehashed[ua] & unkeyed)
                refresh = (keys[unch[stale]].tolist(),
                           conv.source_hash[unch[stale]].astype(np.int64).tolist(),
                           conv.row_hash[unch[stale]].tolist())
            if hit.any():
                code[live[hit]] = np.char.decode(known.code[at[hit]], "ascii").astype(object)
                coded[live[hit]] = True
            if known.returning is not None and (~hit).any():
                # keys coded before without a current version (retired, returning now)
                gone = live[~hit]
                back = known.returning(keys[gone].tolist())
                if back:
                    got = pd.Series(keys[gone], dtype=object).map(back).to_numpy(dtype=object)
                    code[gone] = np.where(pd.notna(got), got, None)
                    coded[gone] = pd.notna(got)
        seen_keys = keys[live].tolist() + sk.keys.filter(pa.array(skipped_ok)).to_pylist() \
            if self.mode == "replace" else None
        if self.mode == "append":
            for j in live[state[live] == 1]:
                keep[j] = False
                rejects.append(self._reject(
                    batch, conv.index[j], "already_loaded",
                    f"feature {keys[j]} is already loaded with other values; use --mode "
                    "update", keys[j]))
        unchanged = int((keep & (state == 2)).sum()) + len(fresh_at)
        write = keep & (state != 2)
        changed = keys[write & (state == 1)].tolist()
        w = np.flatnonzero(write)
        need = write & ~coded
        reused = int(len(w) - need.sum())
        jn = np.flatnonzero(need)
        pcode, prefixes = self._prefixes(dist[jn], conv.class_code[jn])
        # placeholders: the prefix then zeros, one string per distinct prefix
        code[jn] = np.array([p + "0" * self.width for p in prefixes], dtype=object)[pcode]
        # where the serials of new codes go: code is the first field (2 + 4 bytes in); the
        # registry's rows of the new codes in code order (prefixes sorted, then rank: its
        # unique indexes take ordered keys faster)
        in_w = need[w]
        new_prefix = pcode  # jn and w are in row order: so are the new rows
        order = _stable_order(new_prefix, len(prefixes))
        rank = _ranks(new_prefix, order)
        bufs = rowsbuf.batch_rows(layer, self.batch_id, conv, w, code, keys, dist, grid,
                                  np.flatnonzero(in_w)[order], prefixes, new_prefix[order])
        (layer_data, starts), (reg_data, reg_starts) = bufs
        plen = np.array([len(p) for p in prefixes], dtype=np.int64)[new_prefix]
        layer_pos = starts[in_w] + 6 + plen
        flags: dict[str, int] = {}
        if any(conv.flags):  # (C-level: most batches have no flag)
            flagged = np.fromiter(map(len, conv.flags), dtype=np.int64, count=n) > 0
            for j in np.flatnonzero(keep & flagged):  # loaded with a flag (written, unchanged)
                for f in conv.flags[j]:
                    flags[f] = flags.get(f, 0) + 1
        if known.flags and len(fresh_at):  # unchanged unconverted: the current version's
            for a in fresh_at[known.flagged(fresh_at)].tolist():
                for f in known.flags[a]:
                    flags[f] = flags.get(f, 0) + 1
        return DirectBatch(
            read=len(batch), rejects=rejects, flags=flags, unchanged=unchanged,
            changed_keys=changed, reused=reused, layer_rows=len(w), layer_data=layer_data,
            prefixes=prefixes, new_prefix=new_prefix, new_rank=rank, layer_code_pos=layer_pos,
            registry_data=reg_data, registry_code_pos=reg_starts + 6 + plen[order],
            registry_order=order,
            seen_keys=seen_keys, known_current=self.known.current, accepted=accepted,
            refresh=refresh, verified=verified, stale_changed=stale_changed)

    def _first_rows(self) -> np.ndarray:
        """Per row of :class:`Known`, the file row that took its key in this load (0: none
        yet; -1: taken, its row unknown), so that a duplicate names the row it repeats."""
        if self._seen_rows is None:
            self._seen_rows = np.zeros(self.known.current, dtype=np.int64)
        return self._seen_rows

    def saw(self, accepted: tuple[np.ndarray, np.ndarray, Part]) -> None:
        """Source keys accepted by a batch another converter process finished
        (:attr:`DirectBatch.accepted`): rows of :class:`Known` and the file rows that took
        them, and the other keys."""
        at, rows, keys = accepted
        self._first_rows()[at] = rows
        self.seen.add(keys)

    def _prefixes(self, district: np.ndarray, class_code: np.ndarray
                  ) -> tuple[np.ndarray, list[str]]:
        """The new codes' prefixes (district, the feature layer's code, class), factorized:
        per row the index of its prefix among the distinct prefixes, sorted. A prefix is
        formatted once per distinct (district, class) pair, not once per row; values other
        than str (None, numbers: never in a well-formed delivery) are formatted row by row,
        as equal numbers of other types (1, 1.0) would be one pair but two prefixes."""
        mid = self.layer_code if self.layer.code_scheme == "feature" else ""
        if not len(district):
            return np.zeros(0, dtype=np.int64), []
        dc, du = pd.factorize(np.asarray(district, dtype=object))
        cc, cu = pd.factorize(np.asarray(class_code, dtype=object))
        if (dc < 0).any() or (cc < 0).any() or not all(
                isinstance(x, str) for x in (*du, *cu)):
            pair, names = np.arange(len(district)), [
                f"{d}{mid}{c}" for d, c in zip(district, class_code)]
        else:
            # the pairs present, numbered without a sort (few districts times few classes)
            pair = dc * len(cu) + cc
            present = np.zeros(len(du) * len(cu), dtype=bool)
            present[pair] = True
            ends = np.flatnonzero(present)
            pair = (np.cumsum(present) - 1)[pair]
            names = [f"{du[e // len(cu)]}{mid}{cu[e % len(cu)]}" for e in ends.tolist()]
        # two pairs may spell one prefix ("3708"+"11", "37081"+"1"): factorize the names
        ids, uniq = pd.factorize(np.asarray(names, dtype=object), sort=True)
        return ids[pair].astype(np.int64), [str(p) for p in uniq]


def _texts(values: list[str] | pa.Array, rows: list[int]) -> list[str]:
    """``values`` (a list, or an Arrow string array) at ``rows``, as Python texts."""
    if isinstance(values, pa.Array):
        return values.take(pa.array(rows, pa.int64())).to_pylist()
    return [values[j] for j in rows]


def _stable_order(codes: np.ndarray, distinct: int) -> np.ndarray:
    """The stable argsort of ``codes`` (0 ≤ code < distinct): NumPy sorts 16-bit integers
    stably by radix, in linear time."""
    small = codes.astype(np.int16) if distinct <= np.iinfo(np.int16).max else codes
    return np.argsort(small, kind="stable")


def _ranks(codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """1-based rank of each row among the rows of its prefix, in row order (``order``: the
    stable argsort of ``codes``)."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    sorted_codes = codes[order]
    first = np.r_[0, np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, len(codes)]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts + 1
    return rank
