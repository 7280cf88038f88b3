"""Refresh the web map's vendored front-end assets (``make assets``); the served app needs none
of the tools used here.

The platform is served on intranets without internet access, so every script, style sheet and
font its pages load is a file in the repository (``services/webmap/static``), each package with
its licence. This script rebuilds them from npm and the system's Noto CJK font:

- MapLibre GL JS (the one map), Leaflet, Leaflet.markercluster, Leaflet.VectorGrid, Bootstrap
  and Swagger UI (pygeoapi's own HTML pages) from npm into a build folder, the built files copied;
- label glyphs (signed-distance-field PBF ranges) of Noto Sans CJK SC made with ``fontnik`` for
  the Latin, punctuation and symbol ranges only: CJK characters are drawn by the browser from its
  local fonts (MapLibre's ``localIdeographFontFamily``), which keeps the repository small;
- pygeoapi's templates that load from CDNs, copied with every CDN URL turned into the vendored
  file (tags of libraries the platform does not use are dropped) and the basemap made optional;
- the Chinese (zh) message catalogue of those templates compiled to ``messages.mo``.

Usage: ``python scripts/webmap_assets.py [--build DIR] [--skip-npm] [--skip-glyphs]``.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEBMAP = ROOT / "services" / "webmap"
STATIC = WEBMAP / "static"
VENDOR = STATIC / "vendor"
FONTS = STATIC / "fonts"
TEMPLATES = WEBMAP / "pygeoapi_templates"
LOCALE = WEBMAP / "pygeoapi_locale"

NPM = {  # package@version: [(file in the package, file under vendor/<name>/)]
    "maplibre-gl@5.24.1": ["dist/maplibre-gl.js", "dist/maplibre-gl.css", "LICENSE.txt"],
    "leaflet@1.9.4": ["dist/leaflet.js", "dist/leaflet.css", "dist/images/layers.png",
                      "dist/images/layers-2x.png", "dist/images/marker-icon.png",
                      "dist/images/marker-icon-2x.png", "dist/images/marker-shadow.png",
                      "LICENSE"],
    "leaflet.markercluster@1.5.3": ["dist/leaflet.markercluster-src.js",
                                    "dist/MarkerCluster.css", "dist/MarkerCluster.Default.css",
                                    "MIT-LICENCE.txt"],
    "leaflet.vectorgrid@1.3.0": ["dist/Leaflet.VectorGrid.bundled.js"],
    "bootstrap@5.1.3": ["dist/css/bootstrap.min.css", "LICENSE"],
    "swagger-ui-dist@5.35.0": ["swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt",
                               "swagger-ui-standalone-preset.js", "swagger-ui.css",
                               "favicon-16x16.png", "favicon-32x32.png", "LICENSE", "NOTICE"],
}
# CDN URL (regular expression) → vendored file; the remaining CDN tags are removed
CDN = {
    r"https://unpkg\.com/leaflet@[\d.]+/dist/leaflet\.(js|css)": r"leaflet/leaflet.\1",
    r"https://unpkg\.com/leaflet\.markercluster/dist/([\w.-]+)": r"leaflet.markercluster/\1",
    r"https://unpkg\.com/leaflet\.vectorgrid@latest/dist/Leaflet\.VectorGrid\.bundled\.js":
        "leaflet.vectorgrid/Leaflet.VectorGrid.bundled.js",
    r"https://unpkg\.com/bootstrap@5\.1\.3/dist/css/bootstrap\.min\.css":
        "bootstrap/bootstrap.min.css",
    r"https://unpkg\.com/swagger-ui-dist/([\w.-]+)": r"swagger-ui/\1",
}
EXTERNAL = re.compile(r"https://(unpkg\.com|cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|"
                      r"fonts\.googleapis\.com)/")
# the basemap tile layer of a template: built by cimBasemap() (static/pygeoapi-basemap.js),
# an empty layer unless the setting gives a basemap URL (none by default: offline)
TILE_LAYER = re.compile(r"new L\.TileLayer\((\s*'\{\{ config\[[\"']server[\"']\]\[[\"']map[\"']\]"
                        r"\[[\"']url[\"']\] \}\}')")
BASEMAP_JS = "{{ config['server']['url'] }}/map/static/pygeoapi-basemap.js"
LEAFLET_JS = "{{ config['server']['url'] }}/map/static/vendor/leaflet/leaflet.js"
# glyph ranges served as PBF (the rest of the BMP's CJK is drawn from the browser's fonts).
# A range the server answers 404 is drawn by MapLibre from the browser's fonts, but each 404
# is an error in the console: 768 Greek (Φ of a pipe size Φ200), 8960 technical symbols (⌀),
# 9216 enclosed numbers (①) were; 9472 geometric shapes and 9984 dingbats (◆ ▲ ■ ✚ markers)
GLYPH_RANGES = [0, 256, 768, 8192, 8448, 8704, 8960, 9216, 9472, 9984]
FONT_FACE = "Noto Sans CJK SC"
FONT_TTC = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONTSTACK = "Noto Sans CJK SC Regular"
# A codepoint of a served range the CJK face lacks (⌀ U+2300 …) is taken from this face
# (Debian fonts-dejavu-core): MapLibre draws nothing for a codepoint missing from a range it
# loaded — only a range that fails is drawn from the browser's fonts —, so serving 8960-9215
# from Noto alone would have dropped the ⌀ of 管径 labels that the 404 still drew
FALLBACK_TTF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def npm_assets(build: Path) -> None:
    build.mkdir(parents=True, exist_ok=True)
    if not (build / "package.json").exists():
        (build / "package.json").write_text('{"name": "cim-webmap-assets", "private": true}\n')
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts",
                    *NPM, "fontnik@0.7.7"], cwd=build, check=True)
    for spec, files in NPM.items():
        name = spec.rsplit("@", 1)[0]
        pkg = build / "node_modules" / name
        out = VENDOR / name.replace("-dist", "")
        shutil.rmtree(out, ignore_errors=True)
        for f in files:
            dest = out / ("images" if "/images/" in f else "") / Path(f).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(pkg / f, dest)
    vg = VENDOR / "leaflet.vectorgrid"
    readme = (build / "node_modules/leaflet.vectorgrid/README.md").read_text()
    vg.joinpath("LICENSE").write_text(readme[readme.index("## Legalese"):])


_FONTNIK = ("const f=require('fontnik'),fs=require('fs');const font=fs.readFileSync(process.argv[1]);"
            "for(const s of process.argv.slice(3).map(Number)){f.range({font,start:s,end:s+255},"
            "(e,d)=>{if(e)throw e;fs.writeFileSync(process.argv[2]+'/'+s+'-'+(s+255)+'.pbf',d);"
            "});}")


def glyphs(build: Path) -> None:
    """Subset the SC face of Noto Sans CJK to the served ranges, then fontnik's SDF PBFs; the
    codepoints of those ranges it lacks from FALLBACK_TTF, merged into the same PBFs."""
    from fontTools.subset import Options, Subsetter
    from fontTools.ttLib import TTCollection, TTFont

    coll = TTCollection(str(FONT_TTC))
    font = next(f for f in coll.fonts if f["name"].getDebugName(1) == FONT_FACE)
    wanted = [c for r in GLYPH_RANGES for c in range(r, r + 256)]
    has = set(font.getBestCmap())
    ascent = _ascent(font)
    sub = Subsetter(Options())
    sub.populate(unicodes=wanted)
    sub.subset(font)
    otf = build / "font.otf"
    font.save(str(otf))
    out = FONTS / FONTSTACK
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run(["node", "-e", _FONTNIK, str(otf), str(out), *map(str, GLYPH_RANGES)],
                   cwd=build, check=True)
    shutil.copy2("/usr/share/doc/fonts-noto-cjk/copyright", out / "LICENSE")
    if not FALLBACK_TTF.is_file():
        print(f"warning: {FALLBACK_TTF} missing (fonts-dejavu-core): the codepoints "
              f"{FONT_FACE} lacks are not drawn where their range is served", file=sys.stderr)
        return
    fb = TTFont(str(FALLBACK_TTF))
    missing = [c for c in wanted if c not in has and c in fb.getBestCmap()]
    shift = _ascent(fb) - ascent  # fontnik's top is below each face's ascender: one baseline
    sub = Subsetter(Options())
    sub.populate(unicodes=missing)
    sub.subset(fb)
    ttf = build / "fallback.ttf"
    fb.save(str(ttf))
    fb_out = build / "fallback"
    shutil.rmtree(fb_out, ignore_errors=True)
    fb_out.mkdir(parents=True)
    subprocess.run(["node", "-e", _FONTNIK, str(ttf), str(fb_out), *map(str, GLYPH_RANGES)],
                   cwd=build, check=True)
    for pbf in sorted(out.glob("*.pbf")):
        pbf.write_bytes(merge_glyphs(pbf.read_bytes(), (fb_out / pbf.name).read_bytes(), shift))
    shutil.copy2("/usr/share/doc/fonts-dejavu-core/copyright", out / "LICENSE.DejaVu")


def _ascent(font) -> int:
    """The face's ascender in px at fontnik's 24 px (FreeType's size metrics: rounded up)."""
    return math.ceil(font["hhea"].ascent * 24 / font["head"].unitsPerEm)


# -- the glyph PBF (glyphs.proto: glyphs{1: fontstack{1 name, 2 range, 3: glyph{1 id, 2 bitmap,
# 3 width, 4 height, 5 left (sint32), 6 top (sint32), 7 advance}}}), enough to merge two
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7


def _put_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field, wire type, value) of a message: varints and length-delimited fields only."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"glyph PBF: wire type {wire} of field {field}")
        out.append((field, wire, value))
    return out


def _encode(fields: list[tuple[int, int, int | bytes]]) -> bytes:
    out = bytearray()
    for field, wire, value in fields:
        out += _put_varint(field << 3 | wire)
        out += _put_varint(value) if wire == 0 else _put_varint(len(value)) + value
    return bytes(out)


def merge_glyphs(primary: bytes, fallback: bytes, shift: int = 0) -> bytes:
    """``primary``'s glyph PBF with the glyphs of ``fallback`` it lacks added to its fontstack,
    their tops raised by ``shift`` px (the faces' ascender difference)."""
    (_, _, stack), = [f for f in _fields(primary) if f[0] == 1]
    stack_fields = _fields(stack)
    have = {dict((f, v) for f, _, v in _fields(g))[1] for n, _, g in stack_fields if n == 3}
    fb_stacks = [v for n, _, v in _fields(fallback) if n == 1]
    for n, _, g in (_fields(fb_stacks[0]) if fb_stacks else []):
        if n != 3:
            continue
        glyph = _fields(g)
        if dict((f, v) for f, _, v in glyph)[1] in have:
            continue
        glyph = [(f, w, _put_zigzag(_get_zigzag(v) + shift) if f == 6 else v)
                 for f, w, v in glyph]
        stack_fields.append((3, 2, _encode(glyph)))
    return _encode([(1, 2, _encode(stack_fields))])


def _get_zigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def _put_zigzag(v: int) -> int:
    return (v << 1) ^ (v >> 63)


def templates() -> None:
    import pygeoapi

    src = Path(pygeoapi.__file__).parent / "templates"
    shutil.rmtree(TEMPLATES, ignore_errors=True)
    for path in sorted(src.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        if not EXTERNAL.search(text):
            continue
        for pattern, repl in CDN.items():
            text = re.sub(pattern, "{{ config['server']['url'] }}/map/static/vendor/" + repl,
                          text)
        # tags still pointing at a CDN load libraries the platform does not serve
        text = re.sub(r'[ \t]*<(script|link)[^>]*https://(unpkg\.com|cdn\.jsdelivr\.net|'
                      r'cdnjs\.cloudflare\.com|fonts\.googleapis\.com)/[^>]*>(\s*</script>)?\n?',
                      "", text)
        text = TILE_LAYER.sub(r"cimBasemap(\1", text)
        if "cimBasemap(" in text and "/vendor/leaflet/leaflet.js" not in text:
            # upstream's tiles page loads Leaflet's style sheet but not its script
            text = re.sub(r'<link rel="stylesheet" href="[^"]*/vendor/leaflet/leaflet\.css" ?/>',
                          lambda m: f'{m.group(0)}\n    <script src="{LEAFLET_JS}"></script>',
                          text, count=1)
        if "cimBasemap(" in text:  # right after Leaflet, which it needs
            text = re.sub(r'<script src="[^"]*/vendor/leaflet/leaflet\.js"></script>',
                          lambda m: f'{m.group(0)}\n    <script src="{BASEMAP_JS}"></script>',
                          text, count=1)
        if path.name == "redoc.html":  # ReDoc is not vendored: the same document in Swagger UI
            text = "{% include 'openapi/swagger.html' %}\n"
        dest = TEMPLATES / path.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        left = EXTERNAL.search(text)
        if left:
            sys.exit(f"{dest}: still loads {left.group(0)}")


def catalogue() -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = LOCALE / "zh" / "LC_MESSAGES" / "messages.po"
    with open(po, "rb") as fh:
        cat = read_po(fh, locale="zh")
    with open(po.with_suffix(".mo"), "wb") as fh:
        write_mo(fh, cat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", type=Path, default=ROOT / ".cim" / "webmap-build")
    ap.add_argument("--skip-npm", action="store_true")
    ap.add_argument("--skip-glyphs", action="store_true")
    a = ap.parse_args()
    if not a.skip_npm:
        npm_assets(a.build)
    if not a.skip_glyphs:
        glyphs(a.build)
    templates()
    catalogue()


if __name__ == "__main__":
    main()
