"""The entities of a DXF that GDAL does not read, found in the file's own text.

GDAL's DXF driver skips 3D solids, regions, bodies, surfaces and meshes (their geometry is
ACIS data or a subdivision mesh) with a debug message only: a tower drawn as a 3DSOLID on the
建筑 layer was left out of the approval check, which then passed the FAR and density without
it. The entities of the drawing's model space (the ENTITIES section, and the blocks it
inserts) are listed here by type, layer and handle so that the check can refuse each one
naming it, as it refuses any feature it cannot use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# entity types GDAL 3.6's DXF driver does not turn into features (ogrdxflayer.cpp: "ignoring"
# them; the ACIS ones read only with DXF_3D_EXTENSIBLE_MODE, and then with no geometry)
UNREAD_TYPES = frozenset({
    "3DSOLID", "REGION", "BODY", "SURFACE", "PLANESURFACE", "EXTRUDEDSURFACE",
    "LOFTEDSURFACE", "REVOLVEDSURFACE", "SWEPTSURFACE", "NURBSURFACE", "MESH",
    "ACAD_PROXY_ENTITY", "OLE2FRAME", "OLEFRAME", "IMAGE", "WIPEOUT", "XLINE", "RAY",
    "HELIX", "PDFUNDERLAY", "DWFUNDERLAY", "DGNUNDERLAY", "UNDERLAY",
})
_MAX_NESTING = 8  # blocks inserted in blocks: deeper is no drawing of a project
_UNICODE = re.compile(r"\\U\+([0-9A-Fa-f]{4})")  # a DXF's escape of a character (\U+5EFA 建)


@dataclass(frozen=True)
class UnreadEntity:
    type: str
    layer: str
    handle: str | None
    block: str | None = None  # the block it is drawn in, inserted in model space


def _text(raw: bytes) -> str:
    """The DXF's text: UTF-8 (AutoCAD 2007 and later), else its code page's bytes — a
    Chinese drawing's ANSI_936, GBK — with ``\\U+XXXX`` escapes read as their characters."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("gb18030", errors="replace")
    return _UNICODE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _pairs(lines: list[str]):
    for i in range(0, len(lines) - 1, 2):
        yield lines[i].strip(), lines[i + 1].rstrip("\r")


def unread_entities(path: str | Path) -> list[UnreadEntity]:
    """The model-space entities of the DXF at ``path`` GDAL does not read (a binary DXF, or
    one that cannot be read, gives none: GDAL says what it cannot read of those). Paper
    space (a layout: group 67 = 1) is no part of the drawing. An entity of a block takes the
    layer of the INSERT placing it when it is on layer 0, as CAD draws it."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return []
    if raw.startswith(b"AutoCAD Binary DXF"):
        return []
    section = block = None
    blocks: dict[str, list[tuple[str, dict[int, str]]]] = {}
    model: list[tuple[str, dict[int, str]]] = []
    entity: tuple[str, dict[int, str]] | None = None
    expect_name = False

    def close() -> None:
        if entity is None:
            return
        if section == "ENTITIES":
            model.append(entity)
        elif section == "BLOCKS" and block is not None and entity[0] != "ENDBLK":
            blocks.setdefault(block, []).append(entity)

    for code, value in _pairs(_text(raw).split("\n")):
        if code == "0":
            close()
            entity = None
            kind = value.strip()
            if kind == "SECTION":
                expect_name = True
            elif kind == "ENDSEC":
                section = block = None
            elif section == "BLOCKS" and kind == "BLOCK":
                block = ""  # named by its group 2
            elif section in ("ENTITIES", "BLOCKS") and kind not in ("ENDBLK", "SEQEND"):
                entity = (kind, {})
            continue
        if expect_name and code == "2":
            section, expect_name = value.strip(), False
            continue
        if section == "BLOCKS" and entity is None and block == "" and code == "2":
            block = value
            continue
        if entity is not None and code in ("2", "5", "8", "67"):
            entity[1].setdefault(int(code), value)
    close()
    out: list[UnreadEntity] = []

    def walk(ents, layer_of_insert: str | None, block_name: str | None, depth: int) -> None:
        for kind, g in ents:
            if g.get(67, "0").strip() == "1":
                continue
            layer = g.get(8, "0")
            if layer == "0" and layer_of_insert is not None:
                layer = layer_of_insert
            if kind in UNREAD_TYPES:
                out.append(UnreadEntity(kind, layer, g.get(5), block_name))
            elif kind == "INSERT" and depth < _MAX_NESTING and g.get(2) in blocks:
                walk(blocks[g[2]], layer, g[2], depth + 1)

    walk(model, None, None, 0)
    return list(dict.fromkeys(out))  # a block inserted twice: its entity named once
