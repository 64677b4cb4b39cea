"""featureCompatibilityVersion over the wire: the reconciler's pymongo code against the simulated replica set,
whose binaries and FCV follow mongod's rules (tests/mongosim.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from pymongo import MongoClient
from pymongo.errors import NotPrimaryError, OperationFailure

from reconciler.decide import Action, Member, Noop, Roster, next_action
from reconciler.mongo import Credentials, MongoAdapter
from reconciler.status import build_status
from reconciler.versions import SetFeatureCompatibilityVersion
from tests.mongosim import Simulator
from tests.test_reconciler_wire import reconcile

USERS = {name: Credentials(name, f"{name}-pw") for name in ("root", "clusterAdmin", "clusterMonitor")}
CLUSTERS = "abc"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator("db")
    yield simulator
    simulator.stop()


def started(sim: Simulator, release: tuple[int, int]) -> Roster:
    """Three data members in clusters a, b, c on ``release`` binaries (FCV the same), converged."""
    sim.rs.server_version = release
    root = (USERS["root"].user, USERS["root"].password)
    members = tuple(Member(i, sim.add_host(root), 1, 2.0 if i == 0 else 1.0, cluster=c)
                    for i, c in enumerate(CLUSTERS))
    roster = Roster("db", members, "a", "a")
    rounds(sim, roster)
    assert sim.rs.config is not None
    assert len(sim.rs.config["members"]) == 3
    return roster


def rounds(sim: Simulator, roster: Roster, limit: int = 40) -> list[Action]:
    """Every cluster's reconciler observes, decides and acts until none has anything to do."""
    adapters = {c: MongoAdapter("db", USERS, c, timeout_ms=400, backoff=0.0, sleep=lambda _: None) for c in CLUSTERS}
    return reconcile(sim, roster.members, CLUSTERS, roster.init_cluster, limit, adapters, template=roster)


def fcv_actions(done: list[Action]) -> list[tuple[str, bool]]:
    return [(a.version, a.confirm) for a in done if isinstance(a, SetFeatureCompatibilityVersion)]


def root_client(host: str) -> MongoClient[dict[str, object]]:
    return MongoClient(f"mongodb://{host}/", directConnection=True, username="root", password="root-pw",
                       authSource="admin", authMechanism="SCRAM-SHA-256", serverSelectionTimeoutMS=400)


def test_fcv_is_set_with_confirm_after_every_member_runs_7_0(sim: Simulator) -> None:
    roster = replace(started(sim, (6, 0)), version="7.0", fcv="7.0")
    hosts = [m.host for m in roster.members]
    for host in hosts[1:]:  # secondaries first, then the primary
        assert sim.start_binary(host, "7.0.14")
        assert fcv_actions(rounds(sim, roster)) == []  # a member still runs 6.0
        assert sim.rs.fcv == ""
    assert sim.start_binary(hosts[0], "7.0.14")
    assert fcv_actions(rounds(sim, roster)) == [("7.0", True)]
    assert sim.rs.fcv_changes == [("7.0", True)]
    assert fcv_actions(rounds(sim, roster)) == []  # done: nothing more


def test_fcv_on_6_0_is_sent_without_confirm(sim: Simulator) -> None:
    roster = started(sim, (6, 0))
    sim.rs.fcv = "5.0"
    assert fcv_actions(rounds(sim, replace(roster, fcv="6.0"))) == [("6.0", False)]
    assert sim.rs.fcv_changes == [("6.0", False)]
    assert ("setfeaturecompatibilityversion", 40415) not in sim.rs.refused


def test_no_fcv_is_set_unless_the_spec_asks(sim: Simulator) -> None:
    roster = started(sim, (6, 0))
    for host in [m.host for m in roster.members]:
        sim.start_binary(host, "7.0.2")
    assert fcv_actions(rounds(sim, replace(roster, version="7.0"))) == []
    assert sim.rs.fcv_changes == []
    assert sim.rs.feature_compatibility() == (6, 0)


def test_an_fcv_downgrade_is_sent_with_confirm_and_a_half_done_one_is_finished(sim: Simulator) -> None:
    roster = started(sim, (7, 0))
    assert fcv_actions(rounds(sim, replace(roster, fcv="6.0"))) == [("6.0", True)]
    sim.rs.fcv, sim.rs.fcv_target = "6.0", "7.0"  # an upgrade to 7.0 interrupted half-way
    assert fcv_actions(rounds(sim, replace(roster, fcv="7.0"))) == [("7.0", True)]
    assert (sim.rs.fcv, sim.rs.fcv_target) == ("7.0", "")


def test_the_status_reports_the_fcv_and_each_local_binary(sim: Simulator) -> None:
    roster = started(sim, (7, 0))
    adapter = MongoAdapter("db", USERS, "a", timeout_ms=400)
    seen = adapter.observe(roster, frozenset(sim.servers))
    status = build_status(1, roster, seen, next_action(roster, seen), "2026-11-30T00:00:00Z")
    assert (status["featureCompatibilityVersion"], status["fcvTargetVersion"]) == ("7.0", "")
    assert [m.get("version") for m in status["members"]] == ["7.0.0", None, None]  # cluster a holds member 0
    other = replace(roster, this_cluster="b")
    status = build_status(1, other, adapter.observe(other, frozenset(sim.servers)), Noop(""), "now")
    assert "featureCompatibilityVersion" not in status  # only the primary's cluster reports it


# --- the simulator's own strictness (each rule can fail)


def test_the_simulator_refuses_fcv_without_confirm_on_7_0(sim: Simulator) -> None:
    roster = started(sim, (7, 0))
    with root_client(roster.members[0].host) as client, pytest.raises(OperationFailure) as caught:
        client.admin.command("setFeatureCompatibilityVersion", "6.0")
    assert caught.value.code == 7369100


def test_the_simulator_refuses_confirm_on_6_0(sim: Simulator) -> None:
    roster = started(sim, (6, 0))
    with root_client(roster.members[0].host) as client, pytest.raises(OperationFailure) as caught:
        client.admin.command("setFeatureCompatibilityVersion", "5.0", confirm=True)
    assert caught.value.code == 40415


def test_the_simulator_refuses_fcv_on_a_secondary(sim: Simulator) -> None:
    roster = started(sim, (7, 0))
    with root_client(roster.members[1].host) as client, pytest.raises(NotPrimaryError) as caught:
        client.admin.command("setFeatureCompatibilityVersion", "6.0", confirm=True)
    assert isinstance(caught.value.details, dict)
    assert caught.value.details["code"] == 10107


def test_the_simulator_refuses_an_fcv_the_binary_does_not_take(sim: Simulator) -> None:
    roster = started(sim, (7, 0))
    with root_client(roster.members[0].host) as client:
        for wanted in ("8.0", "5.0"):
            with pytest.raises(OperationFailure) as caught:
                client.admin.command("setFeatureCompatibilityVersion", wanted, confirm=True)
            assert caught.value.code == 2


def test_the_simulator_refuses_an_fcv_upgrade_while_a_binary_is_older(sim: Simulator) -> None:
    roster = started(sim, (6, 0))
    sim.start_binary(roster.members[0].host, "7.0.14")
    with root_client(roster.members[0].host) as client, pytest.raises(OperationFailure) as caught:
        client.admin.command("setFeatureCompatibilityVersion", "7.0", confirm=True)
    assert caught.value.code == 2
    behind = ", ".join(sorted(m.host for m in roster.members[1:]))
    assert sim.rs.violations == [f"featureCompatibilityVersion 7.0 while {behind} run older binaries"]


def test_an_8_0_binary_never_starts_on_fcv_6_0(sim: Simulator) -> None:
    roster = started(sim, (6, 0))
    host = roster.members[2].host
    assert not sim.start_binary(host, "8.0.4")
    assert host in sim.rs.down
    assert sim.rs.violations == [f"8.0 binary cannot start on FCV 6.0 data ({host})"]
    assert sim.start_binary(host, "7.0.14")  # the next release does, and comes back
    assert host not in sim.rs.down


def test_the_simulator_reports_each_hosts_binary(sim: Simulator) -> None:
    roster = started(sim, (6, 0))
    sim.start_binary(roster.members[1].host, "7.0.14")
    found = []
    for member in roster.members:
        with MongoClient(f"mongodb://{member.host}/", directConnection=True, serverSelectionTimeoutMS=400) as client:
            found.append(client.admin.command("buildInfo")["version"])
    assert found == ["6.0.0", "7.0.14", "6.0.0"]
