"""A language the server serves in another territory, or not at all, is answered in a
served locale: the server serves ``zh-CN`` and ``en-US``; ``lang=zh`` or a browser's
``Accept-Language: zh`` (``zh-TW``, ``fr``, ``*``) was a 500 on every page pygeoapi renders
(pygeoapi's match built ``Locale('zh', territory='CN')``, which Babel does not know)."""

from __future__ import annotations

import pytest
import requests

PAGES = ["/", "/collections", "/collections?f=html", "/collections/buildings?f=html",
         "/collections/buildings/items?f=html&limit=1", "/conformance"]


ZH, EN = ("zh-CN", "zh-Hans-CN"), ("en-US",)


@pytest.mark.parametrize(("header", "want"), [
    ("zh", ZH), ("zh-TW,zh;q=0.9", ZH), ("zh-Hans", ZH), ("fr", ZH), ("*", ZH),
    ("fr-FR,en;q=0.5", EN), ("en-GB", EN), ("zh-CN", ZH)])
def test_an_accept_language_is_answered_in_a_served_locale(api, header, want):
    for page in PAGES:
        r = requests.get(api + page, headers={"Accept-Language": header}, timeout=60)
        assert r.status_code == 200, (page, header, r.status_code, r.text[:200])
        # Babel's tag of the served locale (zh-CN is zh-Hans-CN)
        assert r.headers["Content-Language"] in want, (page, header, r.headers)


def test_lang_zh_is_the_chinese_page(api):
    for lang in ("zh", "zh-TW", "zh-Hans"):
        r = requests.get(f"{api}/collections", params={"f": "html", "lang": lang}, timeout=60)
        assert r.status_code == 200, (lang, r.status_code, r.text[:200])
        assert r.headers["Content-Language"] in ZH
        assert '<html lang="zh"' in r.text
    r = requests.get(f"{api}/collections", params={"f": "html", "lang": "en"}, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Language"] in EN
