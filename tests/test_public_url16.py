"""The address the served documents name the server by (session 16, a probe's finding):
served on 0.0.0.0 for colleagues' PCs, the web map's scripts, every ``next`` link, the
TileJSON's tiles and the style's sources pointed at http://0.0.0.0:PORT, which no other
machine reaches. Now CIM_PUBLIC_URL (``--public-url``) names it, and without it a wildcard
bind address is replaced by this machine's address (a UDP socket's own address, read here
independently of the code)."""

from __future__ import annotations

import socket

import pytest
import requests
from pydantic import ValidationError

from services.serve import public_base
from services.settings import ServeSettings
from tests.conftest import start_api


def _address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return s.getsockname()[0]


def test_the_public_base():
    assert public_base("127.0.0.1", 5000) == "http://127.0.0.1:5000"
    assert public_base("0.0.0.0", 5000, "https://gis.city.gov.cn/cim/") == \
        "https://gis.city.gov.cn/cim"
    assert public_base("0.0.0.0", 5000) == f"http://{_address()}:5000"
    assert "0.0.0.0" not in public_base("::", 5000)
    with pytest.raises(ValidationError, match="http"):
        ServeSettings(public_url="cim.city.local:5000")


def _links(base: str) -> list[str]:
    page = requests.get(f"{base}/map", timeout=60).text
    items = requests.get(f"{base}/collections/buildings/items", params={"limit": 2},
                         timeout=60).json()
    tilejson = requests.get(f"{base}/tiles/WebMercatorQuad", params={
        "f": "tilejson", "collections": "buildings"}, timeout=60).json()
    return [page, *(link["href"] for link in items["links"]), *tilejson["tiles"]]


@pytest.mark.parametrize("settings,start", [
    ({"host": "0.0.0.0"}, None),
    ({"host": "0.0.0.0", "public_url": "http://cim.example.local:8080/"},
     "http://cim.example.local:8080"),
])
def test_served_on_every_address_the_links_name_a_reachable_one(db, tmp_path, settings,
                                                                start):
    proc, base = start_api(db.url, db.profile, tmp_path, **settings)
    try:
        port = base.rsplit(":", 1)[1]
        start = start or f"http://{_address()}:{port}"
        page, *links = _links(base)
        assert "0.0.0.0" not in page and f'src="{start}/map/static/' in page
        assert links and all(x.startswith(start + "/") for x in links), links
    finally:
        proc.terminate()
        proc.wait(10)
