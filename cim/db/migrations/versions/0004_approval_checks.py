"""Approval checks (issue 11): each ``cim check`` / ``approval-check`` run, recorded.

``approval_checks`` is a record table, not a layer (no versions, no geometry column): the
project's name, the SHA-256 of the file checked (NULL for a project sent as GeoJSON to the
process), when, the overall status and counts (``summary``), the whole JSON result and the HTML
report when one was made, so a check can be found again (``cim checks``).

Revision ID: 0004_approval_checks
Revises: 0003_planning
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0004_approval_checks"
down_revision = "0003_planning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_checks",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("file_sha256", sa.Text, nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("summary", pg.JSONB, nullable=False),
        sa.Column("result", pg.JSONB, nullable=False),
        sa.Column("report_html", sa.Text, nullable=True),
        sa.CheckConstraint("status IN ('pass', 'fail', 'needs_review')",
                           name="approval_checks_status_ck"),
    )
    op.create_index("approval_checks_checked_at_idx", "approval_checks", ["checked_at"])
    op.create_index("approval_checks_project_idx", "approval_checks", ["project"])


def downgrade() -> None:
    op.drop_table("approval_checks")
