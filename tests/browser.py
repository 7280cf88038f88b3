"""Real headless Chromium (Debian ``chromium`` + ``chromium-driver``) for the web map tests,
with every request the browser makes recorded by a proxy in front of it.

All of the browser's traffic, loopback included (``--proxy-bypass-list=<-loopback>``), goes
through :class:`RecordingProxy`: it records each URL (page, scripts, workers, tiles, fonts) and
forwards only requests to the test server; anything else is refused and kept in
``external``. So "no request leaves the server" is checked on the wire, not from the page's
own account of what it loaded.
"""

from __future__ import annotations

import http.client
import shutil
import socketserver
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
        "proxy-authorization", "te", "trailer"}


class RecordingProxy(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """An HTTP proxy on a free port that forwards to ``allowed`` ("host:port") only."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, allowed: str) -> None:
        self.allowed = allowed
        self.requests: list[str] = []
        self.external: list[str] = []
        self.statuses: dict[str, int] = {}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def record(self, url: str, internal: bool, status: int | None = None) -> None:
        with self.lock:
            self.requests.append(url)
            if not internal:
                self.external.append(url)
            if status is not None:
                self.statuses[url] = status

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.external.clear()
            self.statuses.clear()


class _Handler(BaseHTTPRequestHandler):
    server: RecordingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_CONNECT(self) -> None:  # noqa: N802  (https or websockets: never the test server)
        self.server.record("https://" + self.path, internal=False)
        self.send_error(403, "the test proxy forwards only to the test server")

    def _forward(self) -> None:
        url = self.path
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.netloc != self.server.allowed:
            self.server.record(url, internal=False)
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        conn = http.client.HTTPConnection(parts.netloc, timeout=120)
        path = parts.path + ("?" + parts.query if parts.query else "")
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.server.record(url, internal=True, status=resp.status)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in _HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _forward  # noqa: N815


def chromium(proxy: RecordingProxy, width: int = 1400, height: int = 900,
             lang: str = "zh-CN"):
    """A selenium driver of headless Chromium behind ``proxy``, its language ``lang``; skips
    when unavailable."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    if not shutil.which(CHROMIUM) or not shutil.which(CHROMEDRIVER):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver; "
                    "`make test` installs it through scripts/ensure-system.sh)")
    profile = tempfile.mkdtemp(prefix="cim-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps",
                 "--disable-extensions", "--disable-domain-reliability",
                 "--disable-client-side-phishing-detection", "--no-default-browser-check",
                 "--metrics-recording-only", "--disable-features=Translate,OptimizationHints,"
                 "MediaRouter,AutofillServerCommunication,InterestFeedContentSuggestions",
                 # WebGL in software (MapLibre needs WebGL; no GPU in a test machine)
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 f"--proxy-server=http://{proxy.address}", "--proxy-bypass-list=<-loopback>",
                 f"--lang={lang}"):
        opts.add_argument(flag)
    # a browser of a Chinese office: pygeoapi picks its page language from Accept-Language
    opts.add_experimental_option("prefs", {"intl.accept_languages": (
        "zh-CN,zh" if lang == "zh-CN" else lang)})
    try:
        driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    except Exception as exc:  # a broken install: say so rather than fail obscurely
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"Chromium could not start: {exc}")
    driver.set_script_timeout(120)
    driver._cim_profile = profile
    return driver


def quit_chromium(driver) -> None:
    driver.quit()
    shutil.rmtree(driver._cim_profile, ignore_errors=True)
