"""Alembic environment: the URL and the storage SRID come from the caller (cim.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

config = context.config
url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")


def run_migrations_online() -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None,
                          version_table="alembic_version")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
