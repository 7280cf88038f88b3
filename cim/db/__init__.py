"""Database access: the embedded cluster, engines and the URL every component uses."""

from cim.db.engine import database_url, make_engine, psycopg_conninfo

__all__ = ["database_url", "make_engine", "psycopg_conninfo"]
