"""Risk points changed in place count as changes of their layer (their tiles' version).

While an alarm on its asset is active, a risk point's level, colour and flags are raised in
place and restored when it clears (``layers.risk.alarm``): no row is added, no load batch and
no retirement, so the risk tiles' version (``services.tiles_sql.version_statement``) stayed
and browsers kept the old colour (304 to every revalidation). The change counter of migration
0008 (``layer_changes``, kept by statement triggers through a SECURITY DEFINER function, so
the served role's updates count without a privilege on the counter) now counts the layer's
updates too.

Revision ID: 0015_risk_point_changes
Revises: 0014_trimmed_source_keys
Create Date: 2026-12-05
"""

from alembic import op

revision = "0015_risk_point_changes"
down_revision = "0014_trimmed_source_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO layer_changes (layer) VALUES ('risk_points') "
               "ON CONFLICT (layer) DO NOTHING")
    op.execute("CREATE TRIGGER risk_points_count_update AFTER UPDATE ON risk_points "
               "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT "
               "EXECUTE FUNCTION cim_count_layer_change()")


def downgrade() -> None:
    # the counter's row stays: deleted, the next upgrade counted from 0 again, and a tile's
    # version could repeat one from before (the stale colour this migration fixed)
    op.execute("DROP TRIGGER IF EXISTS risk_points_count_update ON risk_points")
