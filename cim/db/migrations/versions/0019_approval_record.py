"""A filed approval check keeps what was checked and who asked, and is not changed after.

A record kept the site and the buildings' attributes only: the footprints, green areas and
demolitions checked were nowhere, and a check over HTTP kept no trace of its project (no file,
no checksum) — a filed check could not be reproduced. ``input`` is the project as checked, a
GeoJSON FeatureCollection in the storage CRS (its ``crs`` member naming it), which the
approval-check process takes as it is; ``channel`` says how the check came (``cli`` with the
file's path and checksum, ``http``), ``operator`` who ran it (the command's ``--by``, else the
system user; none over HTTP, which has no login).

A filed record is evidence: a trigger refuses UPDATE, DELETE and TRUNCATE — but the one
update that files its report with it (``report_html`` set once, nothing else changed). Rows
filed before this revision keep ``input`` NULL.

Revision ID: 0019_approval_record
Revises: 0018_cases_final
Create Date: 2026-12-07
"""

from alembic import op

revision = "0019_approval_record"
down_revision = "0018_cases_final"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE approval_checks ADD COLUMN IF NOT EXISTS input jsonb, "
               "ADD COLUMN IF NOT EXISTS channel text, ADD COLUMN IF NOT EXISTS operator text")
    op.execute("""
CREATE OR REPLACE FUNCTION approval_checks_filed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unchanged approval_checks;
BEGIN
  IF TG_OP = 'UPDATE' THEN  -- (OLD is no record in a TRUNCATE's statement trigger)
    IF OLD.report_html IS NULL THEN
      unchanged := NEW;
      unchanged.report_html := NULL;
      IF unchanged IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;  -- the report filed with its record, once
      END IF;
    END IF;
  END IF;
  -- (its own code, P0001: a grant's refusal, 42501, is another matter)
  RAISE EXCEPTION 'approval check records are filed evidence: % refused', TG_OP
    USING HINT = 'check the project again for a new record';
END $$""")
    op.execute("CREATE TRIGGER approval_checks_filed BEFORE UPDATE OR DELETE ON approval_checks "
               "FOR EACH ROW EXECUTE FUNCTION approval_checks_filed()")
    op.execute("CREATE TRIGGER approval_checks_filed_truncate BEFORE TRUNCATE ON "
               "approval_checks FOR EACH STATEMENT EXECUTE FUNCTION approval_checks_filed()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS approval_checks_filed_truncate ON approval_checks")
    op.execute("DROP TRIGGER IF EXISTS approval_checks_filed ON approval_checks")
    op.execute("DROP FUNCTION IF EXISTS approval_checks_filed()")
    op.execute("ALTER TABLE approval_checks DROP COLUMN IF EXISTS input, "
               "DROP COLUMN IF EXISTS channel, DROP COLUMN IF EXISTS operator")
