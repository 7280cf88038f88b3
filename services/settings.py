"""Settings of the served process (``CIM_`` environment variables), read when the app is built.

They extend :class:`cim.config.Settings` (database URL, profile, home, host, port) with what only
the OGC API server needs: gunicorn's workers, threads and timeouts, and the limits of the
platform's items path. ``cim serve`` turns its options into these variables for the gunicorn
process; :func:`services.app.create_app` reads them at the call, never at import time.

Defaults are sized for a 2-core machine: 2 worker processes × 4 threads each (the items path
waits on PostGIS most of the time, so threads overlap the waits), one pooled connection per
thread.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from cim.config import Settings

TILES_KEYS = ("tiles_max_features", "tiles_low_zoom_features", "tiles_cache_mb",
              "tiles_version_ttl", "tiles_max_age")


class ServeSettings(Settings):
    """The OGC API server: gunicorn sizing and the items path's limits."""

    workers: int = Field(default=2, ge=1, description="gunicorn worker processes")
    threads: int = Field(default=4, ge=1, description="threads per worker (gthread)")
    timeout: int = Field(default=60, ge=1,
                         description="seconds a request may take before its worker restarts")
    graceful_timeout: int = Field(default=30, ge=1, description="seconds to finish on stop")
    keepalive: int = Field(default=5, ge=0, description="seconds an idle connection is kept")
    access_log: bool = Field(default=True, description="log every request to stdout")
    items_default_limit: int = Field(default=10, ge=1, description="page size without limit=")
    items_max_limit: int = Field(default=10_000, ge=1,
                                 description="largest page (a larger limit= is reduced to it)")
    items_max_offset: int = Field(
        default=100_000, ge=0,
        description="largest offset= (page further with the `next` links' cursor)")
    max_body_bytes: int = Field(default=1_048_576, ge=1024,
                                description="largest request body (a larger one is a 413)")
    limit_request_line: int = Field(
        default=8190, ge=256, le=8190,
        description="longest request line (method, URL, version) gunicorn accepts")
    count_cap: int = Field(
        default=10_000, ge=0,
        description="numberMatched is counted exactly up to this many matches and omitted "
                    "above (resulttype=hits always counts exactly)")

    tiles_max_features: int = Field(
        default=50_000, ge=1,
        description="most features of one layer in one vector tile (the largest are kept)")
    tiles_low_zoom_features: int = Field(
        default=8_000, ge=1,
        description="most features of one layer in a tile below the layer's detail zoom "
                    "(keeps z12 tiles near 500 KB)")
    tiles_cache_mb: int = Field(default=64, ge=0,
                                description="server-side tile cache per worker, MiB")
    tiles_version_ttl: float = Field(
        default=1.0, ge=0,
        description="seconds a worker reuses the layers' data versions (tile ETags) before "
                    "reading them again: a load shows in tiles at most this much later")
    tiles_max_age: int = Field(default=0, ge=0,
                               description="Cache-Control max-age of tiles, seconds")

    public_url: str | None = Field(
        default=None,
        description="the address clients reach the server at (http://cim.city.local:5000, "
                    "or a proxy's https://gis.city.gov.cn/cim): every link, tile and script "
                    "URL the server writes starts with it; unset = http://HOST:PORT, and for "
                    "a wildcard HOST (0.0.0.0, ::) this machine's address")
    basemap_url: str | None = Field(
        default=None,
        description="raster basemap URL template ({z}/{x}/{y}) of the web map and pygeoapi's "
                    "HTML pages, e.g. 天地图 with a key; unset = no basemap (offline)")

    @field_validator("public_url")
    @classmethod
    def _an_http_address(cls, v: str | None) -> str | None:
        if v and not v.lower().startswith(("http://", "https://")):
            raise ValueError(f"{v!r}: an http:// or https:// address (CIM_PUBLIC_URL, "
                             "--public-url)")
        return v or None

    def gunicorn_env(self) -> dict[str, str]:
        """These settings as the ``CIM_`` variables that rebuild them in the served process."""
        keys = ("workers", "threads", "timeout", "graceful_timeout", "keepalive", "access_log",
                "items_default_limit", "items_max_limit", "items_max_offset", "count_cap",
                "max_body_bytes", "limit_request_line",
                "host", "port")
        out = {f"CIM_{k.upper()}": str(getattr(self, k)) for k in keys}
        out.update({f"CIM_{k.upper()}": str(getattr(self, k)) for k in TILES_KEYS})
        out["CIM_HOME"] = str(self.home)
        if self.basemap_url:
            out["CIM_BASEMAP_URL"] = self.basemap_url
        if self.public_url:
            out["CIM_PUBLIC_URL"] = self.public_url
        if self.profile is not None:
            out["CIM_PROFILE"] = str(self.profile)
        return out
