"""Lifeline monitoring and the city-operations case loop (issue 14).

- ``sensors`` (POINT): the sensor registry, a layer with the common layer columns of 0001
  (copied: migrations are frozen snapshots), code scheme feature/92, class = sensor type.
- ``reading_sources``: who may send readings over HTTP (one API key per source, stored as a
  SHA-256 hash, revocable).
- ``readings``: one row per sensor and time, natively partitioned by month on ``ts``; the
  primary key (sensor_code, ts) makes ingest idempotent. Partitions are created ahead by the
  platform (``layers.iot.partitions``, run by the owner: ``cim db upgrade``/``cim iot
  partitions``); the served role only inserts through the parent.
- ``sensor_state``: per sensor its latest reading and its open alarm (hysteresis state), so an
  ingest decides from one row per sensor, not from the series.
- ``alarms`` (POINT): one row per alarm episode, opened on ingest (threshold or gap), cleared
  below the hysteresis bound; tied to sensor, asset, grid cell, case and risk point.
- ``cases`` (POINT): the 运管服 case loop; ``case_events`` its audit trail (who, when, from, to,
  note); ``case_contacts`` the reporter's personal data, kept apart from the published table;
  ``case_attachments`` photos.
- ``ops_users``: people of the loop with a role (监督员 受理员 派遣员 处置单位 核查员, admin)
  and a token (SHA-256 hash only).
- ``layer_changes``: a change counter per operational layer (alarms, cases) kept by triggers, so
  the vector tiles' data version (``services.tiles_sql.version_statement``) moves when a row
  is updated in place (an alarm cleared, a case dispatched), not only when one is added; only
  statements that change rows count, and the count commits with them.

Revision ID: 0008_operations
Revises: 0007_risk
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import context, op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0008_operations"
down_revision = "0007_risk"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _srid() -> int:
    srid = context.config.attributes.get("srid")
    if not srid:
        raise RuntimeError("the storage SRID must be passed in config.attributes['srid']")
    return int(srid)


def _layer_columns(srid: int, geometry_type: str) -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(24), nullable=False),
        sa.Column("source_key", sa.Text, nullable=True),
        sa.Column("batch_id", sa.BigInteger, sa.ForeignKey("load_batches.id"), nullable=True),
        sa.Column("valid_from", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("valid_to", TS, nullable=True),
        sa.Column("row_hash", sa.Text, nullable=True),
        sa.Column("flags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("attrs", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("geom", Geometry(geometry_type, srid=srid, spatial_index=False),
                  nullable=False),
    ]


def _current_index(table: str, suffix: str, column: str, unique: bool = False) -> None:
    op.create_index(f"{table}_{suffix}", table, [column], unique=unique,
                    postgresql_where=sa.text("valid_to IS NULL"))


def _result_columns(srid: int) -> list[sa.Column]:
    """The columns a published result table has (code, current flag, geometry)."""
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(24), nullable=False),
        sa.Column("valid_from", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("valid_to", TS, nullable=True),
        sa.Column("flags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("detail", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("geom", Geometry("POINT", srid=srid, spatial_index=False), nullable=True),
    ]


def upgrade() -> None:
    srid = _srid()
    t = "sensors"
    op.create_table(
        t,
        *_layer_columns(srid, "POINT"),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("type_code", sa.String(2), nullable=False),
        sa.Column("type_name", sa.Text),
        sa.Column("unit", sa.Text),
        sa.Column("asset_layer", sa.Text),
        sa.Column("asset_code", sa.String(24)),
        sa.Column("asset_class", sa.Text),
        sa.Column("install_date", sa.Date),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("interval_s", sa.Integer),
        sa.Column("reading_source", sa.Text),
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
    )
    _current_index(t, "code_current_uq", "code", unique=True)
    _current_index(t, "source_key_current_idx", "source_key")
    op.create_index(f"{t}_geom_gist", t, ["geom"], postgresql_using="gist")
    _current_index(t, "device_current_uq", "device_id", unique=True)
    _current_index(t, "asset_current_idx", "asset_code")

    op.create_table(
        "reading_sources",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", TS),
    )

    # native partitioning: the table is declared here, its monthly partitions by the platform
    op.execute(
        "CREATE TABLE readings ("
        " sensor_code varchar(24) NOT NULL,"
        " ts timestamptz NOT NULL,"
        " value double precision NOT NULL,"
        " source text,"
        " received_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (sensor_code, ts)"
        ") PARTITION BY RANGE (ts)")

    op.create_table(
        "sensor_state",
        sa.Column("sensor_code", sa.String(24), primary_key=True),
        sa.Column("last_ts", TS),
        sa.Column("last_value", sa.Float),
        sa.Column("readings", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("alarm_level", sa.SmallInteger),  # level of the open threshold alarm
        sa.Column("alarm_id", sa.BigInteger),
        sa.Column("gap_alarm_id", sa.BigInteger),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    )

    t = "alarms"
    op.create_table(
        t,
        *_result_columns(srid),
        sa.Column("sensor_code", sa.String(24), nullable=False),
        sa.Column("device_id", sa.Text),
        sa.Column("type_code", sa.String(2)),
        sa.Column("type_name", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),  # threshold | gap
        sa.Column("level", sa.SmallInteger, nullable=False),  # 1 (一级, 红) … 4 (四级, 蓝)
        sa.Column("level_name", sa.Text, nullable=False),
        sa.Column("color", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),  # active | cleared
        sa.Column("threshold", sa.Float),
        sa.Column("clear_at", sa.Float),  # the hysteresis bound that clears it
        sa.Column("first_value", sa.Float),
        sa.Column("peak_value", sa.Float),
        sa.Column("last_value", sa.Float),
        sa.Column("unit", sa.Text),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("last_at", TS),
        sa.Column("cleared_at", TS),
        sa.Column("asset_layer", sa.Text),
        sa.Column("asset_code", sa.String(24)),
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("case_code", sa.String(24)),
        sa.Column("risk_code", sa.String(24)),
        sa.CheckConstraint("kind IN ('threshold', 'gap')", name=f"{t}_kind_ck"),
        sa.CheckConstraint("level BETWEEN 1 AND 4", name=f"{t}_level_ck"),
        sa.CheckConstraint("status IN ('active', 'cleared')", name=f"{t}_status_ck"),
    )
    _current_index(t, "code_current_uq", "code", unique=True)
    op.create_index(f"{t}_geom_gist", t, ["geom"], postgresql_using="gist")
    op.create_index(f"{t}_sensor_idx", t, ["sensor_code", "opened_at"])
    op.create_index(f"{t}_active_idx", t, ["status"],
                    postgresql_where=sa.text("status = 'active'"))

    t = "cases"
    op.create_table(
        t,
        *_result_columns(srid),
        sa.Column("source", sa.Text, nullable=False),  # 巡查上报 传感告警 市民热线
        sa.Column("kind", sa.Text),  # 事件 部件
        sa.Column("category_code", sa.Text, nullable=False),
        sa.Column("category_name", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("address", sa.Text),
        sa.Column("district_code", sa.String(6)),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("asset_layer", sa.Text),
        sa.Column("asset_code", sa.String(24)),
        sa.Column("alarm_code", sa.String(24)),
        sa.Column("unit", sa.Text),  # responsible unit (处置单位)
        sa.Column("unit_basis", sa.Text),  # how it was proposed: 主管 权属 养护 category
        sa.Column("reported_at", TS, nullable=False),
        sa.Column("registered_at", TS),
        sa.Column("dispatched_at", TS),
        sa.Column("handled_at", TS),
        sa.Column("verified_at", TS),
        sa.Column("closed_at", TS),
        sa.Column("deadline", TS),
        sa.Column("time_limit_h", sa.Float),
    )
    _current_index(t, "code_current_uq", "code", unique=True)
    op.create_index(f"{t}_geom_gist", t, ["geom"], postgresql_using="gist")
    op.create_index(f"{t}_state_idx", t, ["state"])
    op.create_index(f"{t}_grid_idx", t, ["grid_code", "reported_at"])
    op.create_index(f"{t}_alarm_idx", t, ["alarm_code"])
    op.create_index(f"{t}_reported_idx", t, ["reported_at"])  # evaluation of a period

    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("from_state", sa.Text),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("detail", pg.JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("case_events_case_idx", "case_events", ["case_id", "at"])

    op.create_table(
        "case_contacts",
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("reporter_name", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("reporter_user", sa.Text),
    )
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("case_attachments_case_idx", "case_attachments", ["case_id"])

    op.create_table(
        "ops_users",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("unit", sa.Text),  # a 处置单位 user's unit: they handle its cases only
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", TS),
        sa.CheckConstraint("role IN ('监督员', '受理员', '派遣员', '处置单位', '核查员', 'admin')",
                           name="ops_users_role_ck"),
    )


    # the operational layers' change counters (see the module docstring): a SECURITY DEFINER
    # function, so the served role's writes count without any privilege on the counter table
    op.create_table(
        "layer_changes",
        sa.Column("layer", sa.Text, primary_key=True),
        sa.Column("changes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("changed_at", TS),
    )
    op.execute("INSERT INTO layer_changes (layer) VALUES ('alarms'), ('cases')")
    op.execute(
        "CREATE FUNCTION cim_count_layer_change() RETURNS trigger LANGUAGE plpgsql "
        "SECURITY DEFINER SET search_path FROM CURRENT AS $$ BEGIN "
        "IF EXISTS (SELECT 1 FROM changed) THEN UPDATE layer_changes SET changes = changes + 1, "
        "changed_at = now() WHERE layer = TG_TABLE_NAME; END IF; RETURN NULL; END $$")
    for table in ("alarms", "cases"):
        for event, rows in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(f"CREATE TRIGGER {table}_count_{event.lower()} AFTER {event} ON {table} "
                       f"REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT "
                       "EXECUTE FUNCTION cim_count_layer_change()")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cim_count_layer_change() CASCADE")
    op.execute("DROP TABLE IF EXISTS layer_changes")
    for table in ("ops_users", "case_attachments", "case_contacts", "case_events", "cases",
                  "alarms", "sensor_state", "readings", "reading_sources", "sensors"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
