"""The glyph ranges the web map serves are the ones `make assets` builds: a range added by
hand (9984-10239, the ✚ marker's dingbats) but missing from scripts/webmap_assets.py's list was
deleted by the next `make assets` (it empties the font folder first), and the marker fell back
to a 404 and the browser's font. Every marker glyph of the styles lies in a built range."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _assets():
    spec = importlib.util.spec_from_file_location("webmap_assets",
                                                  ROOT / "scripts" / "webmap_assets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_served_ranges_are_the_built_ones():
    a = _assets()
    served = {int(p.name.split("-")[0]) for p in (a.FONTS / a.FONTSTACK).glob("*.pbf")}
    assert served == set(a.GLYPH_RANGES)


def test_every_marker_glyph_is_in_a_built_range():
    from layers.styles.maplibre import SHAPE_GLYPHS

    starts = set(_assets().GLYPH_RANGES)
    for shape, ch in SHAPE_GLYPHS.items():
        assert ord(ch) // 256 * 256 in starts, (shape, ch, hex(ord(ch)))
