"""The OpenAPI pages (Swagger UI, ReDoc) as the platform's templates render them: pygeoapi
0.21's Swagger template ends its last ``<style>`` with a stray ``undefined`` (left by a
JavaScript template literal when it was written), a CSS syntax error in every copy of the
page the platform served."""

from __future__ import annotations

import re

import requests


def test_the_openapi_pages_have_no_undefined(api):
    for params in ({"f": "html"}, {"f": "html", "ui": "swagger"}, {"f": "html", "ui": "redoc"}):
        r = requests.get(f"{api}/openapi", params=params, timeout=60)
        assert r.status_code == 200, (params, r.status_code, r.text[:200])
        assert "text/html" in r.headers["Content-Type"]
        assert "undefined" not in r.text, (params, r.text[-400:])
    r = requests.get(f"{api}/openapi", params={"f": "html"}, timeout=60)
    styles = re.findall(r"<style>(.*?)</style>", r.text, re.S)
    assert any("download-url-wrapper" in s for s in styles)  # premise: Swagger UI's page
    for css in styles:  # each rule a selector and a { … } block, nothing after the last
        assert re.fullmatch(r"(\s*[^{}]+\{[^{}]*\})*\s*", css), css


def test_html_pages_name_a_text_direction_in_every_language(api):
    """``dir`` comes from the translation catalogue; English has none here, so the pages'
    ``<html dir=…>`` said ``text_direction`` (no direction a browser knows)."""
    for path in ("/collections", "/collections/buildings/items?limit=1",
                 "/collections/nosuch"):
        for lang in ("en", "zh"):
            sep = "&" if "?" in path else "?"
            r = requests.get(f"{api}{path}{sep}f=html&lang={lang}", timeout=60)
            assert r.status_code in (200, 404), (path, lang, r.status_code, r.text[:200])
            m = re.search(r"<html[^>]*>", r.text)
            assert m and 'dir="ltr"' in m[0], (path, lang, m and m[0])
            if r.status_code == 200:  # pygeoapi renders its error pages in English
                assert f'lang="{lang}"' in m[0], (path, lang, m[0])
