"""The reconciler's real pymongo code against a simulated replica set spoken to over the wire (MockupDB).

Each round, every cluster's reconciler observes, decides and acts, as the Deployments in the member clusters
do. The simulator refuses anything MongoDB would refuse and records any rule broken."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import pairwise

import pytest

from reconciler.decide import Action, Member, Noop, Roster, StepDown, next_action
from reconciler.mongo import Credentials, MongoAdapter
from tests.mongosim import Simulator

USERS = {name: Credentials(name, f"{name}-pw-{i}") for i, name in enumerate(("root", "clusterAdmin", "clusterMonitor"))}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator("db")
    yield simulator
    simulator.stop()


def members(sim: Simulator, *clusters: str) -> list[Member]:
    return [Member(i, sim.add_host(), 1, 2.0 if i == 0 else 1.0, cluster=c) for i, c in enumerate(clusters)]


def reconcile(sim: Simulator, roster: Sequence[Member], clusters: Sequence[str], init: str,
              rounds: int = 40) -> list[Action]:
    adapters = {c: sim.reconcilers.setdefault(c, MongoAdapter("db", USERS, timeout_ms=400, backoff=0.0,
                                                              sleep=lambda _: None)) for c in clusters}
    done: list[Action] = []
    for _ in range(rounds):
        acted = False
        ready = frozenset(h for h in sim.servers if h not in sim.rs.down)  # every running pod is ready
        for cluster in clusters:
            adapter = adapters[cluster]
            mine = Roster("db", tuple(roster), init, cluster)
            observed = adapter.observe(mine, ready)
            action = next_action(mine, observed)
            if isinstance(action, Noop):
                continue
            adapter.act(mine, observed, action)
            done.append(action)
            acted = True
        if not acted:
            assert sim.rs.violations == []
            return done
    pytest.fail(f"no convergence after {rounds} rounds: {done[-5:]}")


def config(sim: Simulator) -> set[tuple[int, str, int]]:
    assert sim.rs.config is not None
    return {(m["_id"], m["host"], m["votes"]) for m in sim.rs.config["members"]}


def test_fresh_init_across_three_clusters(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    done = reconcile(sim, roster, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in roster}
    assert sim.rs.primary == roster[0].host
    assert set(sim.rs.users) == {"root", "clusterAdmin", "clusterMonitor"}
    kinds = [type(a).__name__ for a in done]
    assert kinds[:4] == ["Initiate", "CreateUser", "CreateUser", "CreateUser"]
    assert kinds.count("AddMember") == 2
    assert kinds.count("ChangeVotes") == 2
    history = sim.rs.reconfigs
    assert all(len(sim.rs.voters(before) ^ sim.rs.voters(after)) <= 1 for before, after in pairwise(history))


def test_initiate_twice_is_already_initialized(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    adapter = MongoAdapter("db", USERS, timeout_ms=400)
    adapter._initiate(roster[0])  # code 23 is success
    assert sim.rs.violations == []


def test_scale_three_to_five_and_back(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    bigger = [*roster, Member(3, sim.add_host(), cluster="a"), Member(4, sim.add_host(), cluster="b")]
    reconcile(sim, bigger, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in bigger}
    reconcile(sim, roster, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in roster}
    assert sim.rs.violations == []


def test_losing_a_members_cluster(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    sim.rs.down.add(roster[2].host)  # cluster c is lost; fedrender re-renders member 2 into cluster d
    moved = [roster[0], roster[1], Member(2, sim.add_host(), cluster="d")]
    reconcile(sim, moved, "abd", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in moved}


def test_the_primary_steps_down_before_it_is_removed(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    smaller = [roster[1], roster[2]]
    done = reconcile(sim, smaller, "abc", init="b")
    assert isinstance(done[0], StepDown)
    assert sim.rs.primary == roster[1].host
    assert config(sim) == {(m.id, m.host, 1) for m in smaller}


def test_mongod_restarting_mid_reconfig(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster[:1], "a", init="a")
    sim.rs.hiccups[roster[0].host] = 2  # the primary hangs up on the next two reconfigs
    sim.rs.commit_lag = True  # and asks to wait for the previous config to commit (308)
    reconcile(sim, roster, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in roster}
    assert sim.rs.hiccups[roster[0].host] == 0


def test_passwords_never_reach_repr_or_logs(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    assert "pw" not in repr(USERS)
    assert not any("-pw-" in record.getMessage() for record in caplog.records)


def test_a_new_init_cluster_never_initiates_a_second_set(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    sim.rs.down.add(roster[0].host)  # cluster a is lost with the primary; b and c elect a new one
    sim.rs.primary = roster[1].host
    moved = [Member(0, sim.add_host(), 1, 2.0, cluster="d"), roster[1], roster[2]]
    # even a roster that (wrongly) names d, whose only member is new, as the init cluster must not split the set
    reconcile(sim, moved, "bcd", init="d")
    assert sim.rs.violations == []
    assert config(sim) == {(m.id, m.host, 1) for m in moved}
