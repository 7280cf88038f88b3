"""The loaders' scratch folders (where GDAL writes the copies a read needs: a CityGML model
merged, a project zip unpacked, an X/Y table as points) are one public pair,
``loaders.sources.read.scratch_dir`` and ``remove_scratch``, which loaders/project.py and
loaders/sources/citygml.py call (they imported the module's private names)."""

from __future__ import annotations

import tempfile

import loaders.project
import loaders.sources.citygml
from loaders.sources import read


def test_a_scratch_folder_is_made_in_tempfiles_folder_and_removed_at_once(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    d = read.scratch_dir("cim-struct2-")
    assert d.parent == tmp_path and d.name.startswith("cim-struct2-") and d.is_dir()
    (d / "copy.gpkg").write_bytes(b"x" * 10)
    read.remove_scratch(d)
    assert list(tmp_path.iterdir()) == []
    read.remove_scratch(d)  # gone already: nothing to say (an atexit removal comes later too)


def test_the_callers_use_the_public_names():
    assert loaders.project.scratch_dir is read.scratch_dir
    assert loaders.project.remove_scratch is read.remove_scratch
    assert not hasattr(read, "_scratch_dir") and not hasattr(read, "_remove_scratch")
    src = open(loaders.sources.citygml.__file__, encoding="utf-8").read()
    assert "_scratch_dir" not in src and "_remove_scratch" not in src
