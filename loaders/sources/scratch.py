"""Scratch folders: where a read may write what it needs, never beside the delivery."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def scratch_dir(prefix: str) -> Path:
    """A temporary folder removed at exit: where GDAL may write what a read needs."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, tmp, True)
    return tmp


def remove_scratch(folder: Path) -> None:
    """A :func:`scratch_dir` removed now (a city model's copy is as large as the model), not
    only at exit."""
    shutil.rmtree(folder, ignore_errors=True)
