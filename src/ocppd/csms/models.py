"""The tables of the central system (SQLAlchemy Core), for SQLite and PostgreSQL alike.

Alembic migrations under `ocppd/csms/migrations/` create them; `tests/csms/test_database.py`
checks that the migrations and these declarations agree. String columns are `stored_text`'s
`String` and `Text`: on PostgreSQL a NUL in a value is stored as U+FFFD.
"""

import sqlalchemy as sa

from ocppd.csms.stored_text import String, Text

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MAX_STORED_INTEGER = 2**63 - 1
"""The largest number a BIGINT column holds; a charger can send any JSON integer."""
MAX_CONNECTOR_ID = 2**31 - 1
"""The largest connectorId the tables hold (INTEGER)."""


def ignores_duplicates(table: sa.Table) -> bool:
    """Whether rows of `table` are inserted or ignored (ON CONFLICT DO NOTHING): a row whose
    natural key is stored already is a retransmission."""
    return table.info.get("duplicates") == "ignored"


Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrement needs INTEGER

charge_points = sa.Table(
    "charge_points",
    metadata,
    sa.Column("id", String(255), primary_key=True),
    # What a BootNotification is answered with: Accepted, Pending or Rejected.
    sa.Column("registration_status", String(16), nullable=False, server_default="Accepted"),
    sa.Column("auth_key_hash", String(255)),
    sa.Column("leniency_rules", String(255), nullable=False, server_default=""),
    # The lowest security profile (0-3) a connection of this charger may use; only raised by
    # ocppd itself (a connection on a higher one), lowered by an operator (issue 19).
    sa.Column("security_profile", sa.SmallInteger, nullable=False, server_default="0"),
    # Whether it takes the OCPP 1.6 security extension's commands (sent only when true).
    sa.Column("security_extension", sa.Boolean, nullable=False, server_default=sa.false()),
    # This charger's certificate requests: "auto" or "manual"; NULL = `--certificate-signing`.
    sa.Column("certificate_signing", String(8)),
    # How its diagnostics and firmware files travel unless a job says: "http" or "ftp".
    sa.Column("file_transport", String(8), nullable=False, server_default="http"),
    sa.Column("vendor", String(255)),
    sa.Column("model", String(255)),
    sa.Column("charge_point_serial_number", String(255)),
    sa.Column("charge_box_serial_number", String(255)),
    sa.Column("firmware_version", String(255)),
    sa.Column("iccid", String(255)),
    sa.Column("imsi", String(255)),
    sa.Column("meter_type", String(255)),
    sa.Column("meter_serial_number", String(255)),
    sa.Column("booted_at", Timestamp),
    sa.Column("last_heartbeat_at", Timestamp),
    sa.Column("last_seen_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
)

connectors = sa.Table(
    "connectors",
    metadata,
    sa.Column("charge_point_id", String(255), primary_key=True),
    sa.Column("connector_id", sa.Integer, primary_key=True),
    sa.Column("status", String(32), nullable=False),
    sa.Column("error_code", String(64), nullable=False),
    sa.Column("info", String(255)),
    sa.Column("vendor_id", String(255)),
    sa.Column("vendor_error_code", String(255)),
    sa.Column("status_at", Timestamp, nullable=False),
)

status_history = sa.Table(
    "status_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False, index=True),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("status", String(32), nullable=False),
    sa.Column("error_code", String(64), nullable=False),
    sa.Column("info", String(255)),
    sa.Column("vendor_id", String(255)),
    sa.Column("vendor_error_code", String(255)),
    sa.Column("timestamp", Timestamp, nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
)

id_tags = sa.Table(
    "id_tags",
    metadata,
    # idTags are compared case-insensitively: `id_tag_key` is the folded form, unique.
    sa.Column("id_tag", String(20), primary_key=True),
    sa.Column("id_tag_key", String(20), nullable=False, unique=True),
    sa.Column("status", String(16), nullable=False),
    sa.Column("expiry_date", Timestamp),
    sa.Column("parent_id_tag", String(20)),
    sa.Column("updated_at", Timestamp, nullable=False, server_default=sa.func.now()),
)
# In group scope (ConcurrentTx), a StartTransaction looks up the members of its tag's group.
sa.Index("ix_id_tags_parent", sa.func.lower(id_tags.c.parent_id_tag))

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("id_tag", String(255), nullable=False),
    sa.Column("start_status", String(16), nullable=False),
    # NULL when the charger sent a reading no BIGINT holds (the message is still answered).
    sa.Column("meter_start", sa.BigInteger),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("reservation_id", sa.BigInteger),
    sa.Column("meter_stop", sa.BigInteger),
    sa.Column("stopped_at", Timestamp),
    sa.Column("stop_reason", String(32)),
    sa.Column("stop_id_tag", String(255)),
    sa.Column("energy_wh", sa.BigInteger),
    sa.Column("received_at", Timestamp, nullable=False),
    # What showed a transaction the charger forgot to be over (stop_reason "reconciled",
    # `reconciliation.py`); NULL for a stop the charger sent.
    sa.Column("stop_evidence", String(255)),
    sa.Index(
        "ix_transactions_identity", "charge_point_id", "connector_id", "meter_start", "started_at"
    ),
    sa.Index("ix_transactions_id_tag", "id_tag"),
)
# A StartTransaction looks up the running transactions of its (case-folded) tags.
sa.Index(
    "ix_transactions_running_tag",
    sa.func.lower(transactions.c.id_tag),
    postgresql_where=transactions.c.stopped_at.is_(None),
    sqlite_where=transactions.c.stopped_at.is_(None),
)

# A StartTransaction, and a status after a boot, look up the open transactions of a connector.
sa.Index(
    "ix_transactions_open_connector",
    transactions.c.charge_point_id,
    transactions.c.connector_id,
    postgresql_where=transactions.c.stopped_at.is_(None),
    sqlite_where=transactions.c.stopped_at.is_(None),
)

unmatched_stops = sa.Table(
    "unmatched_stops",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("transaction_id", sa.BigInteger, nullable=False),
    sa.Column("id_tag", String(255)),
    sa.Column("meter_stop", sa.BigInteger),
    sa.Column("stopped_at", Timestamp, nullable=False),
    sa.Column("stop_reason", String(32)),
    sa.Column("received_at", Timestamp, nullable=False),
    # Writes are insert-or-ignore (`ignores_duplicates`): a retransmitted stop is stored once.
    info={"duplicates": "ignored"},
)
# Each stop once, by its natural key (migration 0015): the charger, transaction, timestamp and
# meterStop. An unknown meterStop (None: beyond a BIGINT) is indexed as a number no stored
# reading can be (they are within +-MAX_STORED_INTEGER): a unique index takes NULLs as all
# different.
sa.Index(
    "ix_unmatched_stops_natural_key",
    unmatched_stops.c.charge_point_id,
    unmatched_stops.c.transaction_id,
    unmatched_stops.c.stopped_at,
    sa.func.coalesce(unmatched_stops.c.meter_stop, sa.text("-9223372036854775807 - 1")),
    unique=True,
)

meter_values = sa.Table(
    "meter_values",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("transaction_id", sa.BigInteger, index=True),
    sa.Column("timestamp", Timestamp, nullable=False),
    sa.Column("value", Text(), nullable=False),
    sa.Column("measurand", String(64), nullable=False),
    sa.Column("unit", String(16), nullable=False),
    sa.Column("context", String(32), nullable=False),
    sa.Column("format", String(16), nullable=False),
    sa.Column("location", String(16), nullable=False),
    sa.Column("phase", String(8)),
    # Writes are insert-or-ignore (`ignores_duplicates`): a retransmitted sampled value is
    # stored once.
    info={"duplicates": "ignored"},
)
# Each sampled value once, by its natural key (migration 0012). A unique index takes NULLs as
# all different: a missing transaction is indexed as a number no stored id can be (they are
# within +-MAX_STORED_INTEGER), a missing phase as "".
sa.Index(
    "ix_meter_values_natural_key",
    meter_values.c.charge_point_id,
    meter_values.c.timestamp,
    meter_values.c.connector_id,
    sa.func.coalesce(meter_values.c.transaction_id, sa.text("-9223372036854775807 - 1")),
    meter_values.c.measurand,
    sa.func.coalesce(meter_values.c.phase, sa.text("''")),
    meter_values.c.location,
    meter_values.c.context,
    unique=True,
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("direction", String(3), nullable=False),
    sa.Column("message_type", sa.SmallInteger),
    sa.Column("action", String(64)),
    sa.Column("unique_id", String(64)),
    sa.Column("payload", Text(), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Index("ix_messages_charge_point_at", "charge_point_id", "at"),
)

security_events = sa.Table(
    "security_events",
    metadata,
    # SecurityEventNotifications of chargers (source "charger") and what the central system
    # itself saw of a charger (source "central_system": a refused connection, a downgrade).
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("type", String(50), nullable=False),
    sa.Column("tech_info", String(255)),
    sa.Column("critical", sa.Boolean, nullable=False),
    sa.Column("source", String(16), nullable=False),
    sa.Column("timestamp", Timestamp, nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Index("ix_security_events_charge_point_id", "charge_point_id", "id"),
)

certificate_requests = sa.Table(
    "certificate_requests",
    metadata,
    # A charger's SignCertificate (csms/certificate_requests.py): its CSR as sent, what the
    # checks found, the operator's or the policy's decision, the certificate issued, the
    # charger's answer to CertificateSigned, and its reconnection with it (status in-use).
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("csr", Text(), nullable=False),
    sa.Column("subject", Text()),
    sa.Column("key_type", String(8)),
    sa.Column("key_bits", sa.Integer),
    sa.Column("status", String(16), nullable=False),
    sa.Column("reason", Text()),
    sa.Column("serial_number", String(64)),
    sa.Column("certificate", Text()),
    sa.Column("charger_answer", String(16)),
    sa.Column("requested_at", Timestamp, nullable=False),
    sa.Column("decided_at", Timestamp),
    sa.Column("sent_at", Timestamp),
    sa.Column("answered_at", Timestamp),
    sa.Column("in_use_at", Timestamp),
    sa.Index("ix_certificate_requests_charge_point_id", "charge_point_id", "id"),
    sa.Index("ix_certificate_requests_status", "status", "id"),
    # Admission with --client-certificate-cn serial-number: who a certificate was issued to.
    sa.Index("ix_certificate_requests_serial_number", "serial_number"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    # A GetDiagnostics or UpdateFirmware the central system asked for (csms/jobs.py): what was
    # requested, the one-time token of its file link (hashed), the charger's latest status.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("kind", String(16), nullable=False),
    sa.Column("status", String(32), nullable=False),
    sa.Column("start_time", Timestamp),
    sa.Column("stop_time", Timestamp),
    sa.Column("retrieve_date", Timestamp),
    sa.Column("retries", sa.Integer),
    sa.Column("retry_interval", sa.Integer),
    sa.Column("firmware_id", sa.BigInteger),
    sa.Column("token_hash", String(64), unique=True),
    sa.Column("token_expires_at", Timestamp),
    # "http" (a link with a token) or "ftp" (a login and password: the token is "LOGIN:PASSWORD").
    sa.Column("transport", String(8), nullable=False, server_default="http"),
    # The last transfer of its file that failed on ocppd's side (an upload cut short, too
    # large, timed out): nothing of it was kept; a retry within the job may still succeed.
    sa.Column("transfer_error", String(255)),
    sa.Column("transfer_error_at", Timestamp),
    # Diagnostics: the fileName the charger answered, then the file it uploaded.
    sa.Column("file_name", String(255)),
    sa.Column("file_size", sa.BigInteger),
    sa.Column("file_sha256", String(64)),
    sa.Column("file_received_at", Timestamp),
    # Set when the file was deleted, diagnostics_retention_days after it came (its metadata stays).
    sa.Column("file_deleted_at", Timestamp),
    # GetLog and SignedUpdateFirmware jobs: the requestId sent (random), which the charger's
    # notifications name.
    sa.Column("request_id", sa.Integer),
    # GetLog jobs (kind "log"): DiagnosticsLog or SecurityLog.
    sa.Column("log_type", String(16)),
    # SignedUpdateFirmware jobs: what was sent, and who signed ("operator" or "ocppd").
    sa.Column("signature", String(800)),
    sa.Column("signing_certificate", Text()),
    sa.Column("signed_by", String(16)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("ended_at", Timestamp),
    sa.Index("ix_jobs_charge_point", "charge_point_id", "kind", "id"),
)

job_statuses = sa.Table(
    "job_statuses",
    metadata,
    # Every Diagnostics/FirmwareStatusNotification, with the job it was counted for (NULL when
    # none was open: a raw command, a trigger, or a job the charger started itself).
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.BigInteger, index=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("kind", String(16), nullable=False),
    sa.Column("status", String(32), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
)

installed_certificates = sa.Table(
    "installed_certificates",
    metadata,
    # The root certificates a charger reported in its last GetInstalledCertificateIds answer of
    # each type (replaced by the next one; a DeleteCertificate it accepted removes its row).
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("certificate_type", String(32), nullable=False),
    sa.Column("hash_algorithm", String(8), nullable=False),
    sa.Column("issuer_name_hash", String(128), nullable=False),
    sa.Column("issuer_key_hash", String(128), nullable=False),
    sa.Column("serial_number", String(40), nullable=False),
    sa.Column("reported_at", Timestamp, nullable=False),
    sa.Index("ix_installed_certificates_charge_point_id", "charge_point_id", "certificate_type"),
)

firmware = sa.Table(
    "firmware",
    metadata,
    # Firmware images operators uploaded; the bytes are under the data directory, by id.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", String(64), nullable=False),
    sa.Column("uploaded_at", Timestamp, nullable=False),
    # The same bytes are one image: an upload of them again answers the image kept.
    sa.Index("ix_firmware_sha256", "sha256", unique=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    # Bearer tokens of the HTTP API. Only a hash is kept: the token is shown once, at creation.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", String(255), nullable=False, server_default=""),
    sa.Column("role", String(16), nullable=False),
    sa.Column("token_hash", String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
)

security_upgrades = sa.Table(
    "security_upgrades",
    metadata,
    # The latest security upgrade of each charger (csms/security_upgrade.py), as the node that
    # runs it records each step: any node shows it, and it outlives that node. `steps` is the
    # JSON list the API shows; a `running` one past `deadline_at` was lost with its node.
    sa.Column("charge_point_id", String(255), primary_key=True),
    sa.Column("profile", sa.SmallInteger, nullable=False),
    sa.Column("previous", sa.SmallInteger, nullable=False),
    sa.Column("status", String(16), nullable=False),
    sa.Column("node", String(255), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("ended_at", Timestamp),
    sa.Column("deadline_at", Timestamp, nullable=False),
    sa.Column("steps", Text(), nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    # What operators changed or tried to (csms/audit_log.py): who, when, what, and the outcome.
    # Kept: nothing deletes it.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("token_id", sa.BigInteger),  # NULL: the command line (role "cli")
    sa.Column("actor", String(255), nullable=False),  # the token's name, or the OS user
    sa.Column("role", String(16), nullable=False),
    sa.Column("method", String(8), nullable=False),
    sa.Column("route", String(255), nullable=False),
    sa.Column("operation", String(64), nullable=False),
    sa.Column("charge_point_id", String(255)),
    sa.Column("request", Text(), nullable=False),  # a JSON summary, secrets redacted
    sa.Column("status", sa.SmallInteger),  # HTTP status; NULL: not known (yet)
    sa.Column("outcome", String(16)),  # succeeded, refused, failed; NULL: not known (yet)
    sa.Column("result", String(255)),  # a command's answer status, or the error
    sa.Column("response", Text()),  # a JSON summary of the answer
    sa.Index("ix_audit_log_actor", "actor", "id"),
    sa.Index("ix_audit_log_charge_point_id", "charge_point_id", "id"),
)

reservations = sa.Table(
    "reservations",
    metadata,
    # ReserveNow as sent, with the charger's answer. Operators choose reservationIds; one id
    # names one reservation (a ReserveNow with the same id replaces it). It ends when a
    # StartTransaction carries its id (Used), a CancelReservation is Accepted (Cancelled), or
    # its connector goes Faulted or Unavailable (csms/reservations.py); past its expiryDate
    # it is Expired (derived when read, nothing runs at expiry).
    sa.Column("reservation_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("charge_point_id", String(255), nullable=False, index=True),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("id_tag", String(20), nullable=False),
    sa.Column("parent_id_tag", String(20)),
    sa.Column("expiry_date", Timestamp, nullable=False),
    sa.Column("status", String(16), nullable=False),
    sa.Column("reserved_at", Timestamp, nullable=False),
    sa.Column("ended_at", Timestamp),
    sa.Column("end_reason", String(16)),
    sa.Column("transaction_id", sa.BigInteger),
)

configuration = sa.Table(
    "configuration",
    metadata,
    # A charge point's configuration as its GetConfiguration answers said, kept in step by
    # ChangeConfiguration answers. `known` is false for a key it reported unknown (or answered
    # NotSupported). The AuthorizationKey's value is never kept (write-only).
    sa.Column("charge_point_id", String(255), primary_key=True),
    sa.Column("key", String(50), primary_key=True),
    sa.Column("known", sa.Boolean, nullable=False),
    sa.Column("readonly", sa.Boolean),
    sa.Column("value", String(500)),
    # Changed with RebootRequired: `value` is what applies after the next reboot.
    sa.Column("reboot_required", sa.Boolean, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

local_lists = sa.Table(
    "local_lists",
    metadata,
    # Per charge point: the last SendLocalList sent and its answer, the last version it
    # acknowledged (Accepted), and the last version GetLocalListVersion reported.
    sa.Column("charge_point_id", String(255), primary_key=True),
    sa.Column("sent_version", sa.BigInteger),
    sa.Column("sent_update_type", String(16)),
    sa.Column("sent_at", Timestamp),
    sa.Column("status", String(16)),
    sa.Column("acknowledged_version", sa.BigInteger),
    # After Failed or VersionMismatch (or a reported version not the acknowledged one) the
    # next list is Full.
    sa.Column("needs_full", sa.Boolean, nullable=False),
    sa.Column("reported_version", sa.BigInteger),
    sa.Column("reported_at", Timestamp),
)

local_list_entries = sa.Table(
    "local_list_entries",
    metadata,
    # The list a charge point holds as of its acknowledged version: what a Differential is
    # computed against.
    sa.Column("charge_point_id", String(255), primary_key=True),
    sa.Column("id_tag", String(20), primary_key=True),
    sa.Column("status", String(16), nullable=False),
    sa.Column("expiry_date", Timestamp),
    sa.Column("parent_id_tag", String(20)),
)

charging_profiles = sa.Table(
    "charging_profiles",
    metadata,
    # The profiles a charge point holds as its answers said (csms/charging_profiles.py). `id`
    # is the order of installation (a replacement is a new row): equal stack levels prevail
    # by it. `profile` is the ChargingProfile as sent (JSON); the other columns repeat its
    # fields for filtering. A TxProfile belongs to `transaction_id`; NULL = the transaction
    # a RemoteStartTransaction (of `id_tag`) will start, bound when read.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("charging_profile_id", sa.BigInteger, nullable=False),
    sa.Column("stack_level", sa.BigInteger, nullable=False),
    sa.Column("purpose", String(32), nullable=False),
    sa.Column("kind", String(16), nullable=False),
    sa.Column("recurrency_kind", String(16)),
    sa.Column("unit", String(1), nullable=False),
    sa.Column("valid_from", Timestamp),
    sa.Column("valid_to", Timestamp),
    sa.Column("transaction_id", sa.BigInteger),
    sa.Column("id_tag", String(20)),
    sa.Column("profile", Text(), nullable=False),
    sa.Column("installed_at", Timestamp, nullable=False),
    sa.Index("ix_charging_profiles_charge_point", "charge_point_id", "connector_id"),
)

composite_checks = sa.Table(
    "composite_checks",
    metadata,
    # A GetCompositeSchedule answer compared with ocppd's prediction from `charging_profiles`.
    # `matches` false: from `mismatch_at` the charger reported `reported_limit` where ocppd
    # predicted `predicted_limit` (NULL = unconstrained).
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", String(255), nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("checked_at", Timestamp, nullable=False),
    sa.Column("schedule_start", Timestamp, nullable=False),
    sa.Column("duration", sa.BigInteger, nullable=False),
    sa.Column("unit", String(1), nullable=False),
    sa.Column("matches", sa.Boolean, nullable=False),
    sa.Column("mismatch_at", Timestamp),
    sa.Column("predicted_limit", sa.Float),
    sa.Column("reported_limit", sa.Float),
    sa.Column("reported", Text(), nullable=False),
    sa.Column("predicted", Text(), nullable=False),
    sa.Index("ix_composite_checks_charge_point", "charge_point_id", "connector_id", "id"),
)

sites = sa.Table(
    "sites",
    metadata,
    # A group of charge points sharing a limit (csms/sites.py); amounts in `unit` (A or W).
    sa.Column("id", String(64), primary_key=True),
    sa.Column("name", String(255), nullable=False, server_default=""),
    sa.Column("limit", sa.Float, nullable=False),
    sa.Column("unit", String(1), nullable=False),
    sa.Column("min_per_car", sa.Float),
    sa.Column("max_per_car", sa.Float),
    sa.Column("voltage", sa.Float, nullable=False),
    sa.Column("phases", sa.Integer, nullable=False),
    sa.Column("timezone", String(64), nullable=False),
    # The daily periods as JSON: [{"start": "HH:MM", "limit": ...}].
    sa.Column("schedule", Text(), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

site_members = sa.Table(
    "site_members",
    metadata,
    # A charge point belongs to at most one site.
    sa.Column("charge_point_id", String(255), primary_key=True),
    sa.Column("site_id", String(64), nullable=False, index=True),
    sa.Column("added_at", Timestamp, nullable=False),
)
