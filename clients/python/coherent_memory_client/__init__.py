"""Python client for coherent-memory: `CoherentMemory` (sync) and `AsyncCoherentMemory`."""

from coherent_memory_client.client import AsyncCoherentMemory, CoherentMemory
from coherent_memory_client.errors import (
    BadRequest,
    CoherentMemoryError,
    Conflict,
    Forbidden,
    InternalError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
    TooLarge,
    Unauthenticated,
)
from coherent_memory_client.messages import ChatMessage
from coherent_memory_client.models import (
    Appended,
    Context,
    Document,
    DocumentWrite,
    Fact,
    FoundChunk,
    Job,
    MessagesPage,
    Session,
)

__all__ = [
    "Appended",
    "AsyncCoherentMemory",
    "BadRequest",
    "ChatMessage",
    "CoherentMemory",
    "CoherentMemoryError",
    "Conflict",
    "Context",
    "Document",
    "DocumentWrite",
    "Fact",
    "Forbidden",
    "FoundChunk",
    "InternalError",
    "InvalidInput",
    "Job",
    "MessagesPage",
    "NotFound",
    "PreconditionFailed",
    "Session",
    "StoreUnavailable",
    "TooLarge",
    "Unauthenticated",
]
