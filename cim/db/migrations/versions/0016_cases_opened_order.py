"""The case list's order: the last opened on the platform first.

``cim case list`` and ``GET /cases`` list current cases by when their row was written (the
platform's receipt, ``valid_from``: a late alarm's case is reported at its reading's past
time but opened now), then code, and page by that keyset (``layers.cases.listing``). Without
an index on that order every page sorted every current case; with it a page is an index range.

Revision ID: 0016_cases_opened_order
Revises: 0015_risk_point_changes
Create Date: 2026-12-06
"""

from alembic import op

revision = "0016_cases_opened_order"
down_revision = "0015_risk_point_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS cases_opened_idx ON cases (valid_from, code) "
               "WHERE valid_to IS NULL")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS cases_opened_idx")
