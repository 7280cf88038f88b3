"""An expected 404 (an unknown item, an unknown collection) is no error of the server: the
served app's log (gunicorn's, as ops staff read it) has no traceback and no ERROR line for
it. pygeoapi's ``get_exception`` logged each at ERROR, an unknown item's page with the
traceback of the provider's ``ProviderItemNotFoundError``."""

from __future__ import annotations

import re

import requests

from tests.conftest import start_api

MISSES = [  # (path, headers): every one a 404 the client asked for
    ("/collections/buildings/items/1", {}),
    ("/collections/buildings/items/1?f=html", {}),
    ("/collections/buildings/items/1", {"Accept": "text/html"}),
    ("/collections/buildings/items/1?f=jsonld", {}),
    ("/collections/nosuch/items/1", {}),
    ("/collections/nosuch/items", {}),
    ("/collections/nosuch", {}),
    ("/collections/nosuch?f=html", {}),
]


def test_an_expected_404_logs_no_traceback_and_no_error(db, tmp_path):
    assert db.scalar("SELECT count(*) FROM buildings WHERE code = '1'") == 0  # premise
    proc, base = start_api(db.url, db.profile, tmp_path)
    try:
        for path, headers in MISSES:
            r = requests.get(base + path, headers=headers, timeout=60)
            assert r.status_code == 404, (path, headers, r.status_code, r.text[:200])
    finally:
        proc.terminate()
        proc.wait(10)
    log = (tmp_path / "gunicorn.log").read_text()
    assert "GET /collections/nosuch?f=html" in log  # premise: the requests were logged
    assert "Traceback" not in log, log[-3000:]
    assert not re.search(r"\b(ERROR|CRITICAL)\b", log), log[-3000:]
