"""Concurrent writers to one fact key serialize: exactly one active fact, a clean chain."""

from __future__ import annotations

import threading

from service.domain.errors import Conflict
from service.runtime.container import Container
from service.usecases.facts import delete_fact, list_facts, remember_fact


def test_racing_writes_to_one_key_leave_one_active_fact(container: Container, tenant: str) -> None:
    svc = container.services
    errors: list[BaseException] = []

    conflicts: list[Conflict] = []

    def writer(n: int) -> None:
        # A write that loses the compare-and-set WRITE_ATTEMPTS times in a row gets Conflict
        # (409, "retry"): on a starved CPU that happens. A client retries, and so does this one.
        try:
            for i in range(5):
                for _ in range(20):
                    try:
                        remember_fact(svc, tenant, "u", f"Diet choice number {n}-{i}", key="diet")
                        break
                    except Conflict as exc:
                        conflicts.append(exc)
                else:
                    raise AssertionError("a write kept losing the race")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(conflicts) < 20  # rare, and a refused write leaves nothing behind:
    facts = list_facts(svc, tenant, "u", 0, 100)
    assert len(facts) == 20
    active = [f for f in facts if f.status == "active"]
    assert len(active) == 1
    # Every superseded fact points at its successor; following the chain ends at the active one.
    successor = {f.id: f.superseded_by for f in facts if f.status == "superseded"}
    assert len(successor) == 19
    assert set(successor.values()) - set(successor) == {active[0].id}


def test_delete_racing_a_supersede_never_resurrects(container: Container, tenant: str) -> None:
    svc = container.services
    first = remember_fact(svc, tenant, "u", "Lives in Lisbon", key="city").fact
    delete_fact(svc, tenant, first.id)
    second = remember_fact(svc, tenant, "u", "Lives in Porto", key="city").fact
    statuses = {f.id: f.status for f in list_facts(svc, tenant, "u", 0, 10)}
    assert statuses == {second.id: "active"}  # the deleted fact was not superseded back to life
    assert svc.facts.get(tenant, first.id).status == "deleted"  # type: ignore[union-attr]
