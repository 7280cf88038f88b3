"""Work a load command begins while it imports its modules (half a second with a core idle):
the delivery's checksum (:mod:`loaders.engine.checksum`) and a GeoPackage's number check
(:mod:`loaders.sources.table_checks`). Each is kept under the identity of the files it read,
for the load to take only if it reads those very files, unchanged since; whatever else was
begun is dropped then, so that nothing outlives the load's start unseen."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def file_identity(paths: Iterable[Path], *extra: Any) -> tuple | None:
    """The files (each once, in order) by resolved path, size and modification time, and
    ``extra`` (a table's name): what tells the files a load reads from those a check was
    begun on. None when one cannot be read (the reader says why)."""
    try:
        files = tuple((str(Path(f).resolve()), Path(f).stat().st_size,
                       Path(f).stat().st_mtime_ns) for f in dict.fromkeys(paths))
    except OSError:
        return None
    return files + extra


class Begun(dict):
    """Work begun ahead, by :func:`file_identity`."""

    def begin(self, key: tuple | None, make: Callable[[], Any]) -> None:
        """Begin ``make()``'s work under ``key`` unless it is begun already (or no key)."""
        if key is not None and key not in self:
            self[key] = make()

    def take(self, key: tuple | None, drop: Callable[[Any], None] = lambda _w: None) -> Any:
        """The work begun under ``key``, or None; every other is dropped (``drop`` each)."""
        mine = None
        for other in list(self):
            work = self.pop(other)
            if other == key:
                mine = work
            else:
                drop(work)
        return mine
