"""The node's tables (SQLAlchemy Core, portable across SQLite and PostgreSQL).

Alembic migrations under ``molink/storage/migrations`` create exactly these
tables; ``tests/integration/test_migrations.py`` checks they agree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["metadata"]

metadata = MetaData()

# Times are stored as integer microseconds since the Unix epoch (UTC): portable,
# orderable and free of driver time-zone surprises.
Micros = BigInteger

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

peers = Table(
    "peers",
    metadata,
    Column("party", String(16), primary_key=True),
    Column("urls", JSON, nullable=False),
    Column("tls_cert", Text, nullable=False),
    Column("log_origin", String(256), nullable=True),
    Column("log_vkey", String(512), nullable=True),
    Column("witness_vkey", String(512), nullable=True),
    Column("mediator", Boolean, nullable=False, default=False),
    Column("added_at", Micros, nullable=False),
)

peer_keys = Table(
    "peer_keys",
    metadata,
    Column("sig_kid", String(64), primary_key=True),
    Column("party", String(16), nullable=False, index=True),
    Column("sig_public", LargeBinary(32), nullable=False),
    Column("enc_public", LargeBinary(32), nullable=False),
    Column("current", Boolean, nullable=False),
    Column("added_at", Micros, nullable=False),
)

channels = Table(
    "channels",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("members", JSON, nullable=False),
    Column("mediator", String(16), nullable=True),
    Column("state", String(16), nullable=False),
    Column("emergency", Boolean, nullable=False, default=False),
    Column("ack_deadlines", JSON, nullable=True),
    Column("created", Micros, nullable=False),
    Column("votes", JSON, nullable=True),
    Column("vote_action", String(16), nullable=True),
)

channel_seq = Table(
    "channel_seq",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("next_seq", Integer, nullable=False),
)

# Every signed object this node sent or received (messages, acks, ...).
messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("direction", String(3), nullable=False),  # "out" | "in"
    Column("type", String(32), nullable=False),
    Column("sender", String(16), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("channel", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("precedence", String(16), nullable=False),
    Column("prec_rank", Integer, nullable=False),
    Column("created", Micros, nullable=False),
    Column("stored", Micros, nullable=False),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("lang", String(16), nullable=True),
    Column("ref", String(36), nullable=True, index=True),
    Column("jws", Text, nullable=False),
    Column("jws_sha256", String(64), nullable=False),
    Column("envelope", JSON, nullable=True),
    Column("receipt", Text, nullable=True),  # the receipt we issued (inbound)
    Column("log_index", BigInteger, nullable=True),
    Column("acknowledged_at", Micros, nullable=True),
    Column("ack_id", String(36), nullable=True),
    Column("ack_operator", String(64), nullable=True),
    Column("code", String(32), nullable=True),
    Column("params", JSON, nullable=True),
    Column("content", JSON, nullable=True),  # type-specific signed fields (non-message types)
    Column("deadline", Micros, nullable=True),  # acknowledgement deadline (messages)
    Index("ix_messages_box", "direction", "type", "prec_rank", "created"),
    Index("ix_messages_seq", "sender", "channel", "seq"),
)

# One row per (outgoing signed object, recipient): the outbox.
deliveries = Table(
    "deliveries",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("recipient", String(16), primary_key=True),
    Column("status", String(12), nullable=False),  # queued | sent | delivered
    Column("prec_rank", Integer, nullable=False),
    Column("created", Micros, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", Micros, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("receipt", Text, nullable=True),
    Column("delivered_at", Micros, nullable=True),
    Column("route", String(64), nullable=True),
    Column("acknowledged_at", Micros, nullable=True),
    Column("ack_id", String(36), nullable=True),
    Column("ack_operator", String(64), nullable=True),
    # An outbox claim: the worker that (last) took this row for sending, and until when
    # its lease holds (NULL once the attempt is recorded). A worker that dies mid-send
    # loses the row to the others when the lease ends.
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", Micros, nullable=True),
    Index("ix_deliveries_due", "status", "recipient", "prec_rank", "created"),
)

log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("created", Micros, nullable=False),
)

log_nodes = Table(
    "log_nodes",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created", Micros, nullable=False),
)

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(256), primary_key=True),
    Column("line", Text, nullable=False),
    Column("created", Micros, nullable=False),
)

# What this node, as a witness, last cosigned for each peer's log.
witnessed = Table(
    "witnessed",
    metadata,
    Column("origin", String(256), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("updated", Micros, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("parties", JSON, nullable=False),
    Column("refs", JSON, nullable=False),
    Column("title", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("created", Micros, nullable=False, index=True),
    Column("dedup_key", String(200), nullable=True),
    UniqueConstraint("dedup_key", name="uq_alerts_dedup"),
)

operators = Table(
    "operators",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("pseudonym", String(64), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("totp_secret", Text, nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Micros, nullable=True),
    Column("created", Micros, nullable=False),
    Column("totp_last", BigInteger, nullable=True),  # last accepted TOTP time step (no replay)
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", String(64), nullable=False, index=True),
    Column("terminal", String(64), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created", Micros, nullable=False),
    Column("expires", Micros, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("kind", String(16), nullable=True),  # session | api (NULL: provisioned, = api)
    Column("label", String(200), nullable=True),
)

# Client terminals (console browsers, CLI installs, automation clients): each holds an
# Ed25519 key; "provisioned" terminals (e.g. "cli") have none and carry only the tokens
# an administrator issued out of band.
terminals = Table(
    "terminals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("label", String(200), nullable=False),
    Column("unit", String(64), nullable=False, index=True),
    Column("public_key", LargeBinary(32), nullable=True, unique=True),
    Column("status", String(16), nullable=False),  # pending|approved|rejected|revoked
    Column("geofence", JSON, nullable=True),
    Column("created", Micros, nullable=False),
    Column("updated", Micros, nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("reason", Text, nullable=True),
)

unit_quotas = Table(
    "unit_quotas",
    metadata,
    Column("unit", String(64), primary_key=True),  # "*" is the default for every unit
    Column("max_terminals", Integer, nullable=False),
)

# One-time login challenges (stored so that several API workers share them).
login_challenges = Table(
    "login_challenges",
    metadata,
    Column("challenge", String(64), primary_key=True),
    Column("terminal", String(64), nullable=False),
    Column("expires", Micros, nullable=False, index=True),
)

# Who did what, from which terminal, when, and with what outcome (refusals included).
audit = Table(
    "audit",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("time", Micros, nullable=False, index=True),
    Column("operator", String(64), nullable=True, index=True),
    Column("role", String(32), nullable=True),
    Column("terminal", String(64), nullable=True),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(200), nullable=True),
    Column("outcome", String(16), nullable=False),  # ok | refused | failed
    Column("status", Integer, nullable=True),
    Column("detail", Text, nullable=True),
    Column("source", String(64), nullable=True),
    Column("log_index", BigInteger, nullable=True, index=True),
)

# Signed channel lifecycle events, in the order this node stored them.
channel_events = Table(
    "channel_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("channel", String(64), nullable=False, index=True),
    Column("party", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("effective", Micros, nullable=False),
    Column("state_after", String(16), nullable=False),
    Column("message_id", String(36), nullable=True),
    Column("created", Micros, nullable=False),
)

# Which party agreed (signed) to which catalogue version on which channel.
catalogue_agreements = Table(
    "catalogue_agreements",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("party", String(16), primary_key=True),
    Column("version", String(32), primary_key=True),
    Column("catalogue_sha256", String(64), nullable=False),
    Column("message_id", String(36), nullable=True),
    Column("created", Micros, nullable=False),
)

translations = Table(
    "translations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("ref", String(36), nullable=False, index=True),
    Column("party", String(16), nullable=False),
    Column("lang", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("translator", String(64), nullable=False),
    Column("machine", Boolean, nullable=False, default=False),
    Column("jws", Text, nullable=True),
    Column("created", Micros, nullable=False),
)

# Evidence files, encrypted at rest (AES-256-GCM); their SHA-256 is logged.
attachments = Table(
    "attachments",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("incident", String(36), nullable=True, index=True),
    Column("created", Micros, nullable=False),
)
