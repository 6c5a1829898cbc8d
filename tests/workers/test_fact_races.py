"""Concurrent writers to one fact key serialize: exactly one active fact, a clean chain; writes
based on the same fact are never lost silently (lww: current or history; keep_both: flagged
until resolved); updates by id honour If-Match."""

from __future__ import annotations

import threading

import pytest

from service.domain.errors import Conflict, PreconditionFailed
from service.domain.models import Fact, NewMessage
from service.runtime.container import Container
from service.usecases.facts import (
    Remembered,
    delete_fact,
    find_facts,
    list_facts,
    remember_fact,
    resolve_fact,
    update_fact,
)
from service.usecases.seen_facts import shown_to
from service.usecases.services import Services
from service.usecases.sessions import append_messages


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


def test_one_statement_derived_twice_at_once_is_stored_once(
    container: Container, tenant: str
) -> None:
    """An indexing job run twice (a reconcile beside the first run) queues two extractions of
    the same turn; run at once, they store the statement once, not once and its twin."""
    svc = container.services
    barrier = threading.Barrier(4)
    placed: list[str] = []

    def extractor() -> None:
        barrier.wait()
        done = remember_fact(
            svc, tenant, "u", "User lives in Lisbon.", key="user.location",
            source="extracted", lineage=["s/m1"],
        )  # fmt: skip
        placed.append(done.placed)

    threads = [threading.Thread(target=extractor) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(placed) == ["current", "merged", "merged", "merged"]
    [fact] = list_facts(svc, tenant, "u", 0, 100)
    assert (fact.status, fact.lineage) == ("active", ["s/m1"])


def test_delete_racing_a_supersede_never_resurrects(container: Container, tenant: str) -> None:
    svc = container.services
    first = remember_fact(svc, tenant, "u", "Lives in Lisbon", key="city").fact
    delete_fact(svc, tenant, first.id)
    second = remember_fact(svc, tenant, "u", "Lives in Porto", key="city").fact
    statuses = {f.id: f.status for f in list_facts(svc, tenant, "u", 0, 10)}
    assert statuses == {second.id: "active"}  # the deleted fact was not superseded back to life
    assert svc.facts.get(tenant, first.id).status == "deleted"  # type: ignore[union-attr]


def _race(
    svc: Services, tenant: str, writers: int, base: Fact, by_session: bool = False
) -> list[Remembered]:
    """`writers` sessions write one key at once, each based on the fact it read (`base`): named
    in `based_on`, or (`by_session`) what its session was last shown."""
    done: list[Remembered] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(writers)
    if by_session:
        for n in range(writers):
            hello = [NewMessage(role="user", content="Which office again?")]
            append_messages(svc, tenant, f"s{n}", "u", hello)
            shown_to(svc, tenant, f"s{n}", "u", [base])

    def writer(n: int) -> None:
        based_on, session_id = (None, f"s{n}") if by_session else (base.id, None)
        try:
            gate.wait()
            for _ in range(20):
                try:
                    done.append(
                        remember_fact(
                            svc, tenant, "u", f"Works in office number {n}", "user.office",
                            based_on=based_on, session_id=session_id,
                        )
                    )  # fmt: skip
                    return
                except Conflict:
                    continue
            raise AssertionError("a write kept losing the race")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return done


@pytest.mark.parametrize("policy", ["lww", "keep_both"])
@pytest.mark.parametrize("by_session", [False, True], ids=["based_on", "session_last_saw"])
def test_concurrent_writes_are_never_lost_silently(
    container: Container, tenant: str, policy: str, by_session: bool
) -> None:
    svc = container.services
    svc.settings = svc.settings.model_copy(update={"fact_conflict_policies": {tenant: policy}})
    base = remember_fact(svc, tenant, "u", "Works in the old office", "user.office").fact
    done = _race(svc, tenant, 6, base, by_session)
    assert len(done) == 6
    records = {f.id: f for f in list_facts(svc, tenant, "u", 0, 100)}
    # Every write is current, in history, or flagged: none vanished.
    assert {r.fact.id for r in done} <= set(records)
    statuses = sorted(records[r.fact.id].status for r in done)
    if policy == "lww":
        assert statuses.count("active") == 1
        assert statuses.count("superseded") == 5
    else:
        # The first write replaced the base; every later one was concurrent and kept beside.
        assert statuses == ["conflict"] * 6
        assert records[base.id].status == "superseded"
        found = [
            f.id for f, _ in find_facts(svc, tenant, "u", svc.embedder.embed(["office"])[0], 20)[0]
        ]
        assert set(found) == {r.fact.id for r in done}  # all served (with a marker)
        chosen = done[3].fact.id
        resolve_fact(svc, tenant, chosen)
        after = {f.id: f for f in list_facts(svc, tenant, "u", 0, 100)}
        assert after[chosen].status == "active"
        assert sorted(after[r.fact.id].status for r in done) == ["active"] + ["superseded"] * 5
        assert svc.facts.active_for_key(tenant, "u", "user.office").id == chosen  # type: ignore[union-attr]


def test_update_by_id_honours_if_match(container: Container, tenant: str) -> None:
    svc = container.services
    fact = remember_fact(svc, tenant, "u", "Lives in Lisbon", key="city").fact
    with pytest.raises(PreconditionFailed):
        update_fact(svc, tenant, fact.id, "Lives in Porto", if_match='"7"')
    updated = update_fact(svc, tenant, fact.id, "Lives in Porto", if_match='"1"')
    assert (updated.text, updated.version) == ("Lives in Porto", 2)
    with pytest.raises(PreconditionFailed):  # the old version no longer writes
        update_fact(svc, tenant, fact.id, "Lives in Faro", if_match='"1"')
    [(found, _)] = find_facts(svc, tenant, "u", svc.embedder.embed(["Lives in Porto"])[0], 1)[0]
    assert found.text == "Lives in Porto"
