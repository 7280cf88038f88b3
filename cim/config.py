"""Settings of one platform instance, read from the environment (``CIM_`` prefix).

Settings are built by the CLI entry point or by tests, never at import time, so that a test can
point everything at its own database and profile.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = PROJECT_ROOT / "data_samples" / "jining" / "profile.yaml"


class Settings(BaseSettings):
    """Where the database and the city profile are."""

    model_config = SettingsConfigDict(env_prefix="CIM_", extra="ignore")

    home: Path = Field(default_factory=lambda: PROJECT_ROOT / ".cim",
                       description="Folder of the embedded PostGIS cluster and run files.")
    database_url: str | None = Field(
        default=None, description="External PostGIS (SQLAlchemy URL); unset = embedded cluster.")
    db_name: str = Field(default="cim", description="Database name in the embedded cluster.")
    profile: Path = Field(default=DEFAULT_PROFILE, description="City profile YAML.")
    host: str = "127.0.0.1"
    port: int = 5000
