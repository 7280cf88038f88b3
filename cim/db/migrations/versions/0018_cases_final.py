"""Whether a case has ended, kept on its row (``cases.final``), for the one map's open cases.

The map's condition named the platform's final states (``state NOT IN ('结案', '作废')``) in
code: a city whose ``case_workflow.yaml`` renamed them (办结, 撤销) kept every closed case on
the map. The case loop sets ``final`` on each transition from the workflow file in force
(``layers.cases.workflow.act``: the target state is one of its ``final`` states), so the map
reads the city's own loop. Cases written before are marked here by the platform's final states
at the time (结案, 作废) or a close time: a city that renamed them before this revision has its
closed cases marked as they next move, or by hand (``UPDATE cases SET final = state IN (…)``).

Revision ID: 0018_cases_final
Revises: 0017_id_form_source_keys
Create Date: 2026-12-07
"""

from alembic import op

revision = "0018_cases_final"
down_revision = "0017_id_form_source_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE cases ADD COLUMN IF NOT EXISTS final boolean NOT NULL DEFAULT false")
    op.execute("UPDATE cases SET final = true "
               "WHERE state IN ('结案', '作废') OR closed_at IS NOT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE cases DROP COLUMN IF EXISTS final")
