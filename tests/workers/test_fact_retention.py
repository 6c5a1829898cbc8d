"""fact_text_retention_s: superseded and deleted fact versions lose their text (and vector)
after the retention; active facts keep theirs."""

from __future__ import annotations

import dataclasses
import time

from service.domain.points import fact_point_id
from service.runtime.container import Container
from service.usecases import facts, retention


def test_retired_fact_versions_lose_their_text(container: Container, tenant: str) -> None:
    svc = dataclasses.replace(
        container.services,
        settings=container.services.settings.model_copy(update={"fact_text_retention_s": 1}),
    )
    old = facts.remember_fact(svc, tenant, "u", "Ana drinks green tea", key="drink").fact
    new = facts.remember_fact(svc, tenant, "u", "Ana switched to black coffee", key="drink").fact
    gone = facts.remember_fact(svc, tenant, "u", "Ana lives at 12 Elm Street").fact
    facts.delete_fact(svc, tenant, gone.id)
    assert retention.redact_retired_facts(svc) == 0  # within the retention: history intact
    assert svc.facts.get(tenant, old.id).text == "Ana drinks green tea"  # type: ignore[union-attr]

    time.sleep(1.1)
    assert retention.redact_retired_facts(svc) == 2
    superseded = svc.facts.get(tenant, old.id)
    deleted = svc.facts.get(tenant, gone.id)
    assert superseded is not None
    assert deleted is not None
    assert (superseded.status, superseded.text, superseded.superseded_by) == (
        "superseded",
        "",
        new.id,
    )
    assert (deleted.status, deleted.text) == ("deleted", "")
    assert svc.index.retrieve([fact_point_id(tenant, old.id)]) == []
    active = svc.facts.get(tenant, new.id)
    assert active is not None
    assert active.text == "Ana switched to black coffee"
    assert retention.redact_retired_facts(svc) == 0  # done once


def test_retention_zero_keeps_history(container: Container, tenant: str) -> None:
    svc = dataclasses.replace(
        container.services,
        settings=container.services.settings.model_copy(update={"fact_text_retention_s": 0}),
    )
    old = facts.remember_fact(svc, tenant, "u", "Ana drinks green tea", key="drink").fact
    facts.remember_fact(svc, tenant, "u", "Ana switched to black coffee", key="drink")
    assert retention.redact_retired_facts(svc) == 0
    assert svc.facts.get(tenant, old.id).text == "Ana drinks green tea"  # type: ignore[union-attr]
