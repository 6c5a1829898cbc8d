"""Task names, written once: the service enqueues by them, the worker registers from them.

Queued messages outlive deploys, so a name is an API: add a new one rather than rename one.
"""

from __future__ import annotations

INDEX_MESSAGES = "messages.index"
RECONCILE_MESSAGES = "messages.reconcile"
COMPACT = "sessions.compact"
INGEST = "documents.ingest"
SWEEP_DOCUMENTS = "documents.sweep"
INVALIDATE = "admin.invalidate"
REINDEX = "admin.reindex"
RESUME_JOBS = "jobs.resume"
BACKFILL_SCOPES = "vectors.backfill_scopes"
BACKFILL_SESSION_INDEX = "sessions.backfill_index"
EXTRACT_FACTS = "facts.extract"
REDERIVE_FACTS = "facts.rederive"
REBUILD_SUMMARY = "sessions.rebuild_summary"
EXPIRE_SESSIONS = "sessions.expire"
REDACT_FACTS = "facts.redact_retired"
RECOUNT_VECTORS = "vectors.recount"
RECOUNT_FACTS = "facts.recount"

ALL = (
    INDEX_MESSAGES,
    RECONCILE_MESSAGES,
    COMPACT,
    INGEST,
    SWEEP_DOCUMENTS,
    INVALIDATE,
    REINDEX,
    RESUME_JOBS,
    BACKFILL_SCOPES,
    BACKFILL_SESSION_INDEX,
    EXTRACT_FACTS,
    REDERIVE_FACTS,
    REBUILD_SUMMARY,
    EXPIRE_SESSIONS,
    REDACT_FACTS,
    RECOUNT_VECTORS,
    RECOUNT_FACTS,
)
