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

# entity types GDAL's DXF driver (3.6 to 3.12, pyogrio's) turns into no feature, with a debug
# message only (ogrdxflayer.cpp: the ACIS ones are read only with DXF_3D_EXTENSIBLE_MODE, and
# then with no geometry); WIPEOUT, HELIX, XLINE and RAY it reads
UNREAD_TYPES = frozenset({
    "3DSOLID", "REGION", "BODY", "SURFACE", "PLANESURFACE", "EXTRUDEDSURFACE",
    "LOFTEDSURFACE", "REVOLVEDSURFACE", "SWEPTSURFACE", "NURBSURFACE", "MESH",
    "ACAD_PROXY_ENTITY", "OLE2FRAME", "OLEFRAME", "IMAGE", "PDFUNDERLAY", "DWFUNDERLAY",
    "DGNUNDERLAY", "UNDERLAY",
})
_MAX_NESTING = 8  # blocks inserted in blocks: deeper is no drawing of a project
_UNICODE = re.compile(r"\\U\+([0-9A-Fa-f]{4})")  # a DXF's escape of a character (\U+5EFA 建)
_KEPT = UNREAD_TYPES | {"INSERT"}  # what the scan keeps of a drawing's entities


@dataclass(frozen=True)
class UnreadEntity:
    type: str
    layer: str
    handle: str | None
    block: str | None = None  # the block it is drawn in, inserted in model space


def _value(raw: bytes, encoding: str) -> str:
    """A DXF value's text in the file's ``encoding`` (:func:`_encoding`), with ``\\U+XXXX``
    escapes read as their characters."""
    text = raw.decode(encoding, errors="replace")
    return _UNICODE.sub(lambda m: chr(int(m.group(1), 16)), text.strip("\r\n"))


def _encoding(path: str | Path, codepage: bytes | None) -> str:
    """The text encoding of a DXF as the loaders have GDAL read it, so that a layer is named
    here as its features are: its ``$DWGCODEPAGE`` (a Chinese drawing's ANSI_936: GBK; GDAL
    reads it so whatever ``$ACADVER`` says), UTF-8 where the loaders read it so
    (:func:`loaders.sources.text_encoding.dxf_utf8`: UTF-8 text under a single-byte code
    page). Decided once for the file: a GBK name that happens to be valid UTF-8 (围墙) read
    line by line as UTF-8 was another name, and its role missed."""
    from loaders.sources.text_encoding import dxf_utf8

    if dxf_utf8(Path(path)) is not None:
        return "utf-8"
    page = (codepage or b"").strip().upper()
    if page in (b"ANSI_936", b"GBK", b"GB2312"):
        return "gb18030"
    if page.startswith(b"ANSI_") and page[5:].isdigit():
        return f"cp{int(page[5:])}"
    return "cp1252"  # (GDAL's own default: a drawing without a code page)


def unread_entities(path: str | Path) -> list[UnreadEntity]:
    """The model-space entities of the DXF at ``path`` GDAL does not read (a binary DXF, or
    one that cannot be read, gives none). Paper space (a layout: group 67 = 1) is no part of
    the drawing. An entity of a block takes the layer of the INSERT placing it when it is on
    layer 0, as CAD draws it. The file is streamed line by line and only INSERTs and those
    entities are kept: a city's 300 MB base drawing is no reason to hold it in memory."""
    section = block = None
    blocks: dict[bytes, list[tuple[str, dict[int, bytes]]]] = {}
    model: list[tuple[str, dict[int, bytes]]] = []
    entity: tuple[str, dict[int, bytes]] | None = None
    expect_name = False
    header: dict[bytes, bytes] = {}
    variable: bytes | None = None

    def close() -> None:
        if entity is None or entity[0] not in _KEPT:
            return
        if section == "ENTITIES":
            model.append(entity)
        elif section == "BLOCKS" and block is not None:
            blocks.setdefault(block, []).append(entity)

    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError:
        return []
    with fh:
        if fh.read(18) == b"AutoCAD Binary DXF":
            return []
        fh.seek(0)
        while True:
            code_line, value_line = fh.readline(), fh.readline()
            if not value_line:
                break
            code = code_line.strip()
            if code == b"0":
                close()
                entity = None
                kind = value_line.strip().decode("ascii", errors="replace")
                if kind == "SECTION":
                    expect_name = True
                elif kind == "ENDSEC":
                    section = block = None
                elif section == "BLOCKS" and kind == "BLOCK":
                    block = ""  # named by its group 2
                elif section in ("ENTITIES", "BLOCKS") and kind not in ("ENDBLK", "SEQEND"):
                    entity = (kind, {})
                continue
            if expect_name and code == b"2":
                section = value_line.strip().decode("ascii", errors="replace")
                expect_name = False
                continue
            if section == "HEADER":
                if code == b"9":
                    variable = value_line.strip()
                elif variable == b"$DWGCODEPAGE":
                    header[variable] = value_line
                continue
            if section == "BLOCKS" and entity is None and block == "" and code == b"2":
                block = value_line.strip(b"\r\n")
                continue
            if entity is not None and entity[0] in _KEPT and code in (b"2", b"5", b"8", b"67"):
                entity[1].setdefault(int(code), value_line.strip(b"\r\n"))
        close()
    enc = _encoding(path, header.get(b"$DWGCODEPAGE"))
    out: list[UnreadEntity] = []

    def walk(ents, layer_of_insert: str | None, block_name: str | None, depth: int) -> None:
        for kind, g in ents:
            if g.get(67, b"0").strip() == b"1":
                continue
            layer = _value(g.get(8, b"0"), enc)
            if layer == "0" and layer_of_insert is not None:
                layer = layer_of_insert
            handle = _value(g[5], enc) if 5 in g else None
            if kind in UNREAD_TYPES:
                out.append(UnreadEntity(kind, layer, handle, block_name))
            elif kind == "INSERT" and depth < _MAX_NESTING and g.get(2) in blocks:
                walk(blocks[g[2]], layer, _value(g[2], enc), depth + 1)

    walk(model, None, None, 0)
    return list(dict.fromkeys(out))  # a block inserted twice: its entity named once
