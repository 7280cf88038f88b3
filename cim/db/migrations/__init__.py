"""Alembic migrations of the platform schema (package data: run by ``cim db upgrade``).

Frozen snapshots; ``cim.db.schema`` checks the migrated tables against ``cim.layerdefs``.
"""
