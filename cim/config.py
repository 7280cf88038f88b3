"""Settings of one platform instance, read from the environment (``CIM_`` prefix).

Settings are built by the CLI entry point or by tests, never at import time, so that a test can
point everything at its own database and profile.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# the source checkout when running from one; in an installed package, site-packages
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_profile() -> Path | None:
    """The Jining sample profile, package data of ``data_samples`` (with its boundary and grid
    files beside it); None when that package is not installed."""
    try:
        path = Path(str(resources.files("data_samples") / "jining" / "profile.yaml"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


DEFAULT_PROFILE = default_profile()


def default_home() -> Path:
    """Where the embedded cluster, generated configuration and logs live, unless ``CIM_HOME``
    says: ``./.cim`` when the current folder has one; else ``.cim`` of the source checkout when
    running from one (``make demo``, tests); else ``$XDG_DATA_HOME/cim`` (``~/.local/share/cim``)
    for an installed package, never inside site-packages."""
    here = Path.cwd() / ".cim"
    if here.is_dir():
        return here
    if (PROJECT_ROOT / "setup.cfg").is_file() and (PROJECT_ROOT / "cim").is_dir():
        return PROJECT_ROOT / ".cim"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "cim"


class Settings(BaseSettings):
    """Where the database and the city profile are."""

    model_config = SettingsConfigDict(env_prefix="CIM_", extra="ignore")

    home: Path = Field(default_factory=default_home,
                       description="Folder of the embedded PostGIS cluster and run files.")
    database_url: str | None = Field(
        default=None, description="External PostGIS (SQLAlchemy URL); unset = embedded cluster.")
    db_name: str = Field(default="cim", description="Database name in the embedded cluster.")
    profile: Path | None = Field(default_factory=default_profile,
                                 description="City profile YAML (default: the sample profile).")
    log_dir: Path | None = Field(
        default=None, description="Where internal-error logs go; unset = HOME/logs.")
    host: str = "127.0.0.1"
    port: int = 5000
