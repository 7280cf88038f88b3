"""What a direct write's converter hands on: a loader's rows of one batch by column
(:class:`Converted`), the rows a reload left unconverted (:class:`Skipped`) and the batch made
ready for the writer (:class:`DirectBatch`) — the contract between the loaders' converters,
:class:`loaders.engine.direct.DirectConverter` and
:class:`loaders.engine.direct_writer.DirectWriter`, pickled between the converter processes
and the writer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from loaders.engine.report import Reject
from loaders.engine.seenkeys import Part


@dataclass
class Converted:
    """A loader's rows of one batch, by column, before the engine's decisions."""

    index: np.ndarray  # position in the batch of each row (the rest were rejected)
    source_key: np.ndarray
    row_hash: np.ndarray
    attrs: list[str] | pa.Array  # JSON texts of the attributes kept beside the columns
    flags: list[list[str]]
    geoms: np.ndarray  # stored geometries (storage CRS), shapely
    ewkb: np.ndarray | pa.Array  # the same as EWKB with the storage SRID (bytes or Arrow)
    class_code: np.ndarray
    columns: dict[str, np.ndarray]  # the layer's own columns, derived ones left out
    rejects: list[Reject] = field(default_factory=list)
    # set by the engine: the rows' source fingerprints, and the batch's rows left unconverted
    source_hash: np.ndarray | None = None
    skipped: Skipped | None = None
    # whether each row has a key its fingerprint could find again (an id; None: all have)
    keyed: np.ndarray | None = None
    # the attrs texts a reload compares, without the keys that are no content (Known's
    # attrs_skip); None: ``attrs``. ``own_keys``: per row, those keys its delivery holds as
    # columns of its own (joined by known.SEP, "" none): compared after all; None: no row's
    compared_attrs: list[str] | None = None
    own_keys: np.ndarray | None = None


@dataclass
class Skipped:
    """Rows of a batch a reload found unchanged by their source fingerprint, unconverted:
    positions in the batch, source keys, rows of :class:`Known`."""

    pos: np.ndarray
    keys: pa.Array  # text: few are ever made Python strings (a duplicate, replace mode)
    at: np.ndarray

    @classmethod
    def none(cls) -> Skipped:
        return cls(np.zeros(0, dtype=np.int64), pa.array([], pa.string()),
                   np.zeros(0, dtype=np.int64))


@dataclass
class DirectBatch:
    """One converted batch, ready for the writer."""

    read: int
    rejects: list[Reject]
    flags: dict[str, int]
    unchanged: int
    changed_keys: list[str]
    reused: int
    layer_rows: int
    # patched in place by the writer (no copy on its critical path): a bytearray when it
    # comes through a converter's pipe, else a view of the batch's own Arrow buffer
    layer_data: bytearray | memoryview
    # the rows needing a new code, factorized: the batch's distinct prefixes (sorted) and, per
    # such row (row order), the index of its prefix, so that the writer counts and looks up
    # bases with NumPy alone
    prefixes: list[str]
    new_prefix: np.ndarray
    new_rank: np.ndarray  # its 1-based rank among the batch's new rows of that prefix
    layer_code_pos: np.ndarray  # where its serial digits go in layer_data
    registry_data: bytearray | memoryview
    registry_code_pos: np.ndarray
    registry_order: np.ndarray  # registry row i is new row registry_order[i]
    seen_keys: list[str] | None = None  # replace mode: every accepted source key
    known_current: int = 0  # current features of the dataset when the load started
    # keys first seen in this batch (for the other workers): rows of Known with the file
    # rows that took them (see DirectConverter._first_rows), other keys (with theirs)
    accepted: tuple[np.ndarray, np.ndarray, Part] | None = None
    # unchanged features whose current version keeps another fingerprint: (keys, fingerprints,
    # content hashes)
    refresh: tuple[list[str], list[int], list[str]] = ([], [], [])
    # rows of Known of an older conversion found unchanged, and those changed (retired):
    # what the load records as verified (DirectWriter, load_verified)
    verified: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stale_changed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
