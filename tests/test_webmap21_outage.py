"""The web map opened while the database is away comes back by itself once it returns.

A page opened during a database outage stayed blank until reloaded: the layer tree and the
live layers' polling were set up once, at load, and a failure there was final; tiles that
failed (5xx) were never asked again. Staff of 运管服 keep the map open on a wall screen all
day: it must recover without anyone at the keyboard. Checked in real headless Chromium over
HTTP against the real app, the outage made real by a TCP gate between the app and PostgreSQL
(its connections cut, new ones refused) — no mocks."""

from __future__ import annotations

import socket
import threading
import urllib.parse
from contextlib import suppress

import pytest
from sqlalchemy.engine import make_url

from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import (
    drop_database,
    load_network_samples,
    make_db,
    server_url,
    start_api,
)
from tests.test_webmap import wait


class Gate:
    """A TCP relay on a free loopback port to PostgreSQL's; :meth:`close` cuts every relayed
    connection and refuses new ones (the database away), :meth:`open` lets them through."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.is_open = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.is_open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        with suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for s in (a, b):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.is_open = False
        with self.lock:
            for s in self.conns:
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
            self.conns.clear()

    def open(self) -> None:
        self.is_open = True

    def stop(self) -> None:
        self.close()
        self.sock.close()


@pytest.fixture(scope="module")
def outage(jining_profile, tmp_path_factory):
    d = make_db("wm21outage", jining_profile)
    load_network_samples(d, jining_profile)
    u = make_url(d.url)
    gate = Gate(u.host, u.port)
    gated = u.set(port=gate.port).render_as_string(hide_password=False)
    home = tmp_path_factory.mktemp("wm21")
    proc, base = start_api(gated, d.profile, home, tiles_version_ttl=0)
    proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
    driver = chromium(proxy)
    try:
        yield base, driver, gate, proxy
    finally:
        quit_chromium(driver)
        proxy.shutdown()
        proc.terminate()
        proc.wait(10)
        gate.stop()
        drop_database(server_url(), d.name)


def _drawn(driver) -> int:
    return driver.execute_script("return CIM_MAP.map.queryRenderedFeatures().filter(f => "
                                 "f.source === 'cim' || f.source === 'live').length")


def test_a_map_opened_during_an_outage_recovers_when_the_database_returns(outage):
    base, driver, gate, proxy = outage
    gate.close()
    try:
        driver.get(base + "/map?live=1")
        # premise: the outage is real — tiles and versions refused, nothing drawn, and said
        wait(driver, "return !!document.getElementById('info-away')", 60)
        assert any(s == 503 for u, s in proxy.statuses.items() if "/tiles/" in u)
        assert _drawn(driver) == 0
    finally:
        gate.open()
    # no reload of the page: the live polling starts, every failed tile is asked again, the
    # notice goes, and the pipes and districts are drawn
    wait(driver, "return CIM_STATE.ready && !CIM_STATE.live.away && "
                 "!document.getElementById('info-away') && CIM_STATE.live.version !== null", 60)
    wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded() && "
                 "m.queryRenderedFeatures().some(f => f.source === 'cim')", 60)
    assert _drawn(driver) > 0
    # the district list (zoom to) is filled too
    wait(driver, "return document.querySelectorAll('#goto optgroup option').length > 0", 30)


def test_an_outage_while_the_map_is_open_is_said_and_recovered(outage):
    base, driver, gate, proxy = outage
    driver.get(base + "/map?live=1")
    wait(driver, "return CIM_STATE.ready && CIM_STATE.live.version !== null", 60)
    wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded() && "
                 "m.queryRenderedFeatures().some(f => f.source === 'cim')", 60)
    recoveries = driver.execute_script("return CIM_STATE.live.recoveries")
    gate.close()
    try:
        wait(driver, "return CIM_STATE.live.away && !!document.getElementById('info-away')", 30)
        # a move while away: its tiles fail (MapLibre never asks for them again)
        proxy.clear()
        driver.execute_script("CIM_MAP.map.zoomIn({duration: 0})")
        wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded()", 30)
        assert any(s == 503 for u, s in proxy.statuses.items() if "/tiles/" in u)
    finally:
        gate.open()
    wait(driver, "return !CIM_STATE.live.away && !document.getElementById('info-away') && "
                 f"CIM_STATE.live.recoveries > {recoveries}", 60)
    wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded() && "
                 "m.queryRenderedFeatures().some(f => f.source === 'cim')", 60)
