"""Replace a session's turns with a given list (a whole-state PUT, as Agent Memory Server
clients write their working memory): new ids are appended, live turns missing from the list
are deleted, turns in both are kept as stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from service.domain.models import NewMessage
from service.usecases.lineage import delete_message
from service.usecases.services import Services
from service.usecases.sessions import append_messages, open_session

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Replaced:
    """What a replacement did to the session's log."""

    appended: int
    deleted: int
    created: bool  # the session did not exist before


def replace_messages(
    svc: Services, tenant: str, session_id: str, user_id: str, messages: Sequence[NewMessage]
) -> Replaced:
    """Make the session's live turns the given ones (created, empty, when new; 409 if another
    user's). A turn's id names it: a listed id already stored keeps its stored body (turns are
    immutable); a listed id that left the log (summarized, or deleted) is not appended again."""
    created = open_session(svc, tenant, session_id, user_id)
    live = [m.id for m in svc.sessions.messages(tenant, session_id, 0, -1)]
    wanted = {m.id for m in messages if m.id}
    stored = set(live)
    deleted = 0
    for message_id in live:
        if message_id not in wanted:
            delete_message(svc, tenant, session_id, message_id)
            deleted += 1
    new = [m for m in messages if not m.id or m.id not in stored]
    appended = 0
    batch = svc.settings.max_batch_messages
    for start in range(0, len(new), batch):
        result = append_messages(svc, tenant, session_id, user_id, new[start : start + batch])
        appended += result.appended
    if appended or deleted:
        log.info(
            "messages.replaced",
            tenant=tenant,
            session_id=session_id,
            appended=appended,
            deleted=deleted,
        )
    return Replaced(appended, deleted, created)
