"""The checksum of a delivery (``load_batches.source_sha256``, ``approval_checks.file_sha256``):
what identifies the files a batch or an approval check read. It decides no row, so it lives
apart from the rows' content hashes (:mod:`loaders.hashing`), whose code a reload digests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loaders.engine.ahead import Begun, file_identity

# the files of one Shapefile: its checksum covers each (its attributes are in the .dbf, its CRS
# in the .prj: an edited height left the .shp's checksum as it was) — not a spatial index
# (.qix, .sbn, .sbx) that QGIS or ArcGIS build beside it when they open it: no content
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def delivery_files(path: Path) -> list[Path]:
    """The files a delivery at ``path`` is: a Shapefile's parts beside its ``.shp`` (the same
    name, a suffix of any case), else the file itself (a folder: none)."""
    path = Path(path)
    if not path.is_file():
        return []
    if path.suffix.lower() != ".shp":
        return [path]
    return sorted(p for p in path.parent.iterdir()
                  if p.stem == path.stem and p.suffix.lower() in SHAPEFILE_PARTS
                  and p.is_file())


def file_sha256(path: Path) -> str:
    return _file_sha256(path, hashlib.sha256())


def _file_sha256(path: Path, h: Any) -> str:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def files_sha256(files: list[Path]) -> str | None:
    """Checksum of a delivery: of its file, or of its files' names and checksums in order."""
    return files_sha256_job(files)()


def files_sha256_job(files: list[Path]) -> Callable[[], str | None]:
    """:func:`files_sha256` as a job for another thread, its hash objects made here, in the
    caller's thread. A load hashes its delivery on a thread while it forks its converter
    processes; OpenSSL takes locks of its own while it makes a hash object (it fetches the
    digest), and a process forked while another thread held one would wait for it forever
    (a GeoPackage reader's thread once left a converter so: docs/benchmarks.md). Feeding and
    finishing the hashes takes none."""
    files = list(dict.fromkeys(files))
    inner = [hashlib.sha256() for _ in files]
    outer = hashlib.sha256() if len(files) > 1 else None

    def run() -> str | None:
        if not files:
            return None
        if outer is None:
            return _file_sha256(files[0], inner[0])
        sums = {f: _file_sha256(f, h) for f, h in zip(files, inner)}
        for f in sorted(files):
            outer.update(f"{f.name}\0{sums[f]}\n".encode())
        return outer.hexdigest()

    return run


def start_files_sha256(files: list[Path]) -> None:
    """Begin the checksum of ``files`` on a thread now, while a load command imports its
    modules (half a second with a core idle; 0.2 s of CPU a 280 MB GeoPackage, which ran
    beside the converters otherwise), for :func:`files_sha256_started` to take."""
    import concurrent.futures

    def submit() -> Any:
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cim-sha256")
        fut = pool.submit(files_sha256_job(files))
        pool.shutdown(wait=False)
        return fut

    _STARTED.begin(file_identity(files), submit)


def files_sha256_started(files: list[Path]) -> Any:
    """The future of the checksum :func:`start_files_sha256` began of these very files
    (unchanged since), or None; any other begun is dropped (its thread only reads and
    hashes: nothing to wait for before a fork)."""
    return _STARTED.take(file_identity(files))


_STARTED = Begun()
