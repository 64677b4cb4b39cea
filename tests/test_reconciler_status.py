"""Status that means what it says, and a reconciler that acts promptly: whole reconcilers (Kubernetes API
emulator + simulated replica set) in three clusters, on a simulated clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from reconciler.decide import Member, Noop, Observed, Roster
from reconciler.main import Reconciler, Settings
from reconciler.mongo import MongoAdapter
from reconciler.status import build_status
from tests.kubesim import KubeSim
from tests.mongosim import Simulator
from tests.test_reconciler_kube import kube, mrs, pod, secret

PASSWORDS = {u: f"{u}-S3cr3t-{i}" for i, u in enumerate(("root", "clusterAdmin", "clusterMonitor"))}


@dataclass
class Clock:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class World:
    mongo: Simulator
    apis: dict[str, KubeSim]
    reconcilers: dict[str, Reconciler]
    clock: Clock
    hosts: list[str]

    def statuses(self) -> list[dict[str, Any]]:
        """Every status ever written, in every cluster."""
        return [obj["status"] for api in self.apis.values() for _, _, obj in api.history if "status" in obj]

    def run(self, until: float = 600.0) -> float:
        """Each cluster's reconciler, when its object is due (as ``run`` schedules it); the simulated time all
        three report Ready."""
        due = dict.fromkeys(self.reconcilers, 0.0)
        while self.clock.now < until:
            cluster = min(due, key=lambda c: (due[c], c))
            self.clock.now = max(self.clock.now, due[cluster])
            due[cluster] = self.clock.now + self.reconcilers[cluster].reconcile_safely(
                self.apis[cluster].objects[("team", "db")])
            phases = {c: api.objects[("team", "db")].get("status", {}).get("phase") for c, api in self.apis.items()}
            if set(phases.values()) == {"Ready"}:
                return self.clock.now
        pytest.fail(f"not Ready after {until} simulated seconds: {phases}")


def make_world(size: int, arbiter: bool = False) -> World:
    """``size`` data members round-robin over clusters a, b, c (a, b only with an arbiter, which goes to c)."""
    mongo = Simulator("db")
    clusters = "abc"
    homes = "ab" if arbiter else clusters
    apis = {c: KubeSim() for c in clusters}
    clock = Clock()
    hosts = [mongo.add_host(("root", PASSWORDS["root"])) for _ in range(size)]
    members = [{"_id": i, "host": h, "cluster": homes[i % len(homes)], "ordinal": i // len(homes), "votes": 1,
                "priority": 2 if i == 0 else 1, "tags": {"cluster": homes[i % len(homes)]}}
               for i, h in enumerate(hosts)]
    if arbiter:
        host = mongo.add_host(None, arbiter=True)
        hosts.append(host)
        members.append({"_id": size, "host": host, "cluster": "c", "ordinal": 0, "votes": 1, "priority": 0,
                        "arbiterOnly": True, "tags": {"cluster": "c"}})
    reconcilers = {}
    for c, api in apis.items():
        api.put_object(mrs("db", members))
        api.pods["team"] = [pod(f"db-{i}", "db") for i in range(2)] + [pod("db-arbiter-0", "db")]
        for user, password in PASSWORDS.items():
            api.secrets[("team", f"db-{user.lower()}")] = secret(f"db-{user.lower()}", user, password)
        reconcilers[c] = Reconciler(Settings(c), kube(api, c), sleep=clock.sleep, clock=lambda: clock.now)
        reconcilers[c].adapters["team/db"] = MongoAdapter("db", {}, c, attempts=2, sleep=clock.sleep)
    return World(mongo, apis, reconcilers, clock, hosts)


W = TypeVar("W", bound=World)


@contextmanager
def stopping(world: W) -> Iterator[W]:
    """``world``, its simulated servers stopped on the way out."""
    try:
        yield world
    finally:
        world.mongo.stop()
        for api in world.apis.values():
            api.stop()


def running(size: int, arbiter: bool = False) -> AbstractContextManager[World]:
    return stopping(make_world(size, arbiter))


@pytest.fixture
def world() -> Iterator[World]:
    with running(5) as five:
        yield five


def test_five_members_converge_in_seconds_of_simulated_time(world: World) -> None:
    world.mongo.rs.clock = lambda: world.clock.now
    world.mongo.rs.initial_sync_seconds = 3  # each new member reports STARTUP2 for 3 s (a small data set)
    seconds = world.run()
    assert seconds <= 30, seconds  # one action per resync (60 s) took 11 minutes
    assert world.mongo.rs.violations == []
    assert {m["votes"] for m in (world.mongo.rs.config or {})["members"]} == {1}


def test_a_308_storm_produces_no_degraded_status_and_few_writes() -> None:
    with running(3) as world:
        world.mongo.rs.commit_lag = 9  # every reconfig is refused 9 times first: more than one pass retries
        world.run(until=3600)
        phases = [s["phase"] for s in world.statuses()]
        assert "Degraded" not in phases
        assert "Reconfiguring" in phases
        storm = world.mongo.rs.refused.count(("replsetreconfig", 308))
        assert storm >= 18
        assert len(world.statuses()) < storm, "one status write per retry"


def test_a_cluster_that_holds_only_an_arbiter_reports_ready() -> None:
    with running(2, arbiter=True) as world:
        world.run()
        status = world.apis["c"].objects[("team", "db")]["status"]
        assert status["phase"] == "Ready"
        assert status["primary"] == world.hosts[0]
        assert {m["host"]: m["stateStr"] for m in status["members"]}[world.hosts[2]] == "ARBITER"
        # each config member's votes, for the renderer reading the aggregated status back (issue 14)
        assert {m["host"]: m["votes"] for m in status["members"]} == dict.fromkeys(world.hosts[:3], 1)
        assert {c["type"]: c["status"] for c in status["conditions"]} == {
            "Initialized": "True", "UsersReady": "True", "MembersInSync": "True", "MembersLeaving": "False",
            "Ready": "True"}
        assert world.mongo.rs.default_write_concern == {"w": "majority"}


def test_status_is_written_only_when_it_changes(world: World) -> None:
    world.run()
    before = len(world.statuses())
    for c, reconciler in world.reconcilers.items():
        reconciler.reconcile(world.apis[c].objects[("team", "db")])
    assert len(world.statuses()) == before


def test_syncing_is_not_degraded_and_a_lost_voter_is(world: World) -> None:
    world.mongo.rs.clock = lambda: world.clock.now
    world.mongo.rs.initial_sync_seconds = 3
    world.run()
    assert any(s["phase"] == "Syncing" for s in world.statuses())
    for c in "abc":  # everyone Ready; now a voter's cluster goes away
        assert world.apis[c].objects[("team", "db")]["status"]["phase"] == "Ready"
    world.mongo.take_down(world.hosts[2])
    assert world.reconcilers["a"].reconcile(world.apis["a"].objects[("team", "db")]) == "Degraded"
    ready = next(c for c in world.apis["a"].objects[("team", "db")]["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "MemberUnreachable"


def test_no_password_in_any_status_event_or_log_line(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    world.run()
    for a in world.reconcilers.values():  # rotate every Secret, then carry it out
        for key in a.adapters:
            a.adapters[key].users = {}
    for api in world.apis.values():
        for user in PASSWORDS:
            api.secrets[("team", f"db-{user.lower()}")] = secret(f"db-{user.lower()}", user, f"{user}-R0tated")
    world.run()
    everything = json.dumps([world.statuses(), [api.events for api in world.apis.values()]], default=str)
    everything += "\n".join(r.getMessage() for r in caplog.records)
    for password in [*PASSWORDS.values(), *(f"{u}-R0tated" for u in PASSWORDS)]:
        assert password not in everything
    assert "UpdateUser" in [e["reason"] for api in world.apis.values() for e in api.events]


def test_conditions_keep_their_transition_time_unless_their_status_changes() -> None:
    roster = Roster("db", (Member(0, "a:1", cluster="a"),), "a", "a")
    seen = Observed(config=roster.members, config_version=1, primary="a:1", states={"a:1": "PRIMARY"},
                    users=frozenset(roster.users), default_write_concern="majority")
    first = build_status(1, roster, seen, Noop("in sync"), "2026-01-01T00:00:00Z")
    again = build_status(1, roster, seen, Noop("in sync"), "2026-01-02T00:00:00Z", previous=first["conditions"])
    assert {c["lastTransitionTime"] for c in again["conditions"]} == {"2026-01-01T00:00:00Z"}
    lost = build_status(1, roster, Observed(), Noop("?"), "2026-01-03T00:00:00Z", previous=again["conditions"])
    times = {c["type"]: c["lastTransitionTime"] for c in lost["conditions"]}
    assert times["Initialized"] == "2026-01-03T00:00:00Z"
    assert times["Ready"] == "2026-01-03T00:00:00Z"


def test_authentication_failure_is_reported_as_such() -> None:
    roster = Roster("db", (Member(0, "a:1", cluster="a"),), "a", "a")
    status = build_status(1, roster, Observed(auth_failed="a:1: root cannot log in (code 18)"), Noop("x"), "t")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (status["phase"], ready["reason"]) == ("Pending", "AuthenticationFailed")
    initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert "not initiated" not in initialized["message"].lower()


def test_a_member_recovering_past_the_deadline_is_degraded_not_before() -> None:
    api = KubeSim()
    try:
        clock = Clock()
        reconciler = Reconciler(Settings("a", stuck_seconds=300), kube(api, "a"), clock=lambda: clock.now)
        roster = Roster("db", (Member(0, "a:1", cluster="a"), Member(1, "b:1", cluster="b")), "a", "a")
        seen = Observed(config=roster.members, config_version=2, primary="a:1",
                        states={"a:1": "PRIMARY", "b:1": "RECOVERING"}, users=frozenset(roster.users),
                        default_write_concern="majority")
        assert reconciler._stuck("team/db", seen) == frozenset()
        assert build_status(1, roster, seen, Noop("x"), "t")["phase"] == "Syncing"
        clock.now = 301
        stuck = reconciler._stuck("team/db", seen)
        assert stuck == {"b:1"}
        status = build_status(1, roster, seen, Noop("x"), "t", stuck=stuck)
        assert status["phase"] == "Degraded"
        assert next(c for c in status["conditions"] if c["type"] == "Ready")["reason"] == "MemberStuck"
        recovered = Observed(**{**seen.__dict__, "states": {"a:1": "PRIMARY", "b:1": "SECONDARY"}})
        assert reconciler._stuck("team/db", recovered) == frozenset()
        clock.now = 700  # RECOVERING again later: the deadline starts over
        assert reconciler._stuck("team/db", seen) == frozenset()
    finally:
        api.stop()


def test_a_wrong_root_password_is_an_authentication_failure_with_one_event() -> None:
    with running(3) as world:
        for api in world.apis.values():
            api.secrets[("team", "db-root")] = secret("db-root", "root", "not-the-password")
        for _ in range(2):
            phase = world.reconcilers["a"].reconcile(world.apis["a"].objects[("team", "db")])
        status = world.apis["a"].objects[("team", "db")]["status"]
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert (phase, ready["reason"]) == ("Pending", "AuthenticationFailed")
        initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
        assert "code 18" in initialized["message"]
        assert [e["reason"] for e in world.apis["a"].events] == ["AuthenticationFailed"]
        assert world.mongo.rs.initiates == []


def test_members_leaving_is_reported_until_they_are_out_and_then_the_set_is_ready() -> None:
    """A roster marking members leaving: MembersLeaving True while the config lists them (the health Lua stays
    Progressing); once out, the config matches the members that stay: Ready, and the condition tells that the
    next render removes their pods."""
    hosts = [f"10.0.0.{i}:27017" for i in range(3)]
    roster = Roster("rs", (Member(0, hosts[0], cluster="a"), Member(1, hosts[1], cluster="a"),
                           Member(2, hosts[2], 0, 0, cluster="a", leaving=True)), "a", "a")
    states = dict.fromkeys(hosts, "SECONDARY") | {hosts[0]: "PRIMARY"}
    configured = (Member(0, hosts[0], cluster="a"), Member(1, hosts[1], cluster="a"),
                  Member(2, hosts[2], 0, 0, cluster="a"))
    during = build_status(4, roster, Observed(configured, 9, hosts[0], states), Noop("remove member 2"), "t")
    conditions = {c["type"]: c for c in during["conditions"]}
    assert (conditions["MembersLeaving"]["status"], conditions["MembersLeaving"]["reason"]) == (
        "True", "LeavingConfiguration")
    assert conditions["MembersLeaving"]["message"].startswith("member 2 leaves the replica set configuration")
    assert during["phase"] == "Reconfiguring"
    after = build_status(4, roster, Observed(configured[:2], 10, hosts[0], states), Noop("in sync"), "t")
    conditions = {c["type"]: c for c in after["conditions"]}
    assert (conditions["MembersLeaving"]["status"], conditions["MembersLeaving"]["reason"]) == (
        "False", "LeftConfiguration")
    assert (after["phase"], conditions["MembersInSync"]["status"]) == ("Ready", "True")
