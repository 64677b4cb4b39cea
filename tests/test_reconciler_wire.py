"""The reconciler's real pymongo code against a simulated replica set spoken to over the wire (MockupDB).

Each round, every cluster's reconciler observes, decides and acts, as the Deployments in the member clusters
do. The simulator refuses anything MongoDB would refuse (no localhost exception over the network, MongoDB
5.0+ write-concern rules, one voting change per reconfig, 308, primary-only commands) and records any rule
broken."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from itertools import pairwise

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from fedrender.scheduler.voters import Seat, choose_voters
from reconciler.decide import (
    Action,
    AddMember,
    ChangeVotes,
    Initiate,
    Member,
    Noop,
    Roster,
    SetDefaultWriteConcern,
    StepDown,
    next_action,
)
from reconciler.mongo import Credentials, MongoAdapter, Temporary
from tests.mongosim import Simulator, entrypoint_root

NAMES = ("root", "clusterAdmin", "clusterMonitor")


def credentials(version: int = 0) -> dict[str, Credentials]:
    return {name: Credentials(name, f"{name}-pw-{version}") for name in NAMES}


USERS = credentials()
ROOT = (USERS["root"].user, USERS["root"].password)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator("db")
    yield simulator
    simulator.stop()


def members(sim: Simulator, *clusters: str) -> list[Member]:
    """Data members, one per cluster name given, each a fresh mongod whose entrypoint created root."""
    return [Member(i, sim.add_host(ROOT), 1 if i < 7 else 0, (2.0 if i == 0 else 1.0) if i < 7 else 0.0, cluster=c)
            for i, c in enumerate(clusters)]


def arbiter(sim: Simulator, member_id: int, cluster: str) -> Member:
    return Member(member_id, sim.add_host(None, arbiter=True), 1, 0.0, True, cluster)


def adapter(cluster: str, users: dict[str, Credentials] = USERS) -> MongoAdapter:
    return MongoAdapter("db", users, cluster, timeout_ms=400, backoff=0.0, sleep=lambda _: None)


def reconcile(sim: Simulator, roster: Sequence[Member], clusters: Sequence[str], init: str, rounds: int = 60,
              adapters: dict[str, MongoAdapter] | None = None, template: Roster | None = None) -> list[Action]:
    """Every cluster's reconciler observes, decides and acts until none has anything to do (``template``: the
    roster's other fields, e.g. a version or featureCompatibilityVersion); the actions taken."""
    adapters = adapters if adapters is not None else {}
    for c in clusters:
        adapters.setdefault(c, adapter(c))
    done: list[Action] = []
    for _ in range(rounds):
        acted = False
        ready = frozenset(h for h in sim.servers if h not in sim.rs.down)  # every running pod is ready
        for cluster in clusters:
            mine = (replace(template, members=tuple(roster), init_cluster=init, this_cluster=cluster) if template
                    else Roster("db", tuple(roster), init, cluster))
            observed = adapters[cluster].observe(mine, ready)
            action = next_action(mine, observed)
            if isinstance(action, Noop):
                continue
            with contextlib.suppress(Temporary):  # observed again next round, as the loop does
                adapters[cluster].act(mine, observed, action)
            done.append(action)
            acted = True
        if not acted:
            assert sim.rs.violations == []
            return done
    pytest.fail(f"no convergence after {rounds} rounds: {done[-5:]}")


def config(sim: Simulator) -> set[tuple[int, str, int]]:
    assert sim.rs.config is not None
    return {(m["_id"], m["host"], m["votes"]) for m in sim.rs.config["members"]}


def one_vote_at_a_time(sim: Simulator) -> bool:
    return all(len(sim.rs.voters(a) ^ sim.rs.voters(b)) <= 1 for a, b in pairwise(sim.rs.reconfigs))


# --- 1. the first user, without the localhost exception


def test_fresh_three_members_over_three_clusters_without_the_localhost_exception(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    done = reconcile(sim, roster, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in roster}
    assert sim.rs.primary == roster[0].host
    assert set(sim.rs.users) == set(NAMES)
    kinds = [type(a).__name__ for a in done]
    assert kinds[:4] == ["Initiate", "SetDefaultWriteConcern", "CreateUser", "CreateUser"]  # root: entrypoint
    assert kinds.count("AddMember") == 2
    assert kinds.count("ChangeVotes") == 2
    assert ("replsetinitiate", 13) not in sim.rs.refused  # root logged in from the start
    assert one_vote_at_a_time(sim)


def test_the_simulator_grants_no_localhost_exception_over_the_wire(sim: Simulator) -> None:
    host = sim.add_host(None)  # no entrypoint user at all: a real mongod --auth would still need one
    with MongoClient(f"mongodb://{host}/", directConnection=True, serverSelectionTimeoutMS=400) as client:
        with pytest.raises(OperationFailure) as refused:
            client.admin.command("replSetInitiate", {"_id": "db", "members": [{"_id": 0, "host": host}]})
        assert refused.value.code == 13
        with pytest.raises(OperationFailure) as refused:
            client.admin.command("createUser", "root", pwd="x", roles=["root"])
        assert refused.value.code == 13
    assert sim.rs.config is None


def test_the_entrypoint_needs_both_username_and_password() -> None:
    with pytest.raises(ValueError, match="both must be specified"):
        entrypoint_root("root", None)
    assert entrypoint_root(None, None) == {}


def test_without_the_entrypoints_root_nothing_is_initiated_and_the_failure_is_named(sim: Simulator) -> None:
    host = sim.add_host(None)  # an image whose entrypoint does not create root
    roster = Roster("db", (Member(0, host, cluster="a"),), "a", "a")
    observed = adapter("a").observe(roster, frozenset({host}))
    assert "cannot log in with the password of its Secret (code 18)" in observed.auth_failed
    assert isinstance(next_action(roster, observed), Noop)
    assert sim.rs.initiates == []


def test_initiate_twice_is_already_initialized(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    adapter("a")._initiate(Roster("db", tuple(roster[:1]), "a", "a"), roster[0])  # code 23 is success
    with pytest.raises(Temporary, match="already exists"):  # with members elsewhere: refused before sending
        adapter("a")._initiate(Roster("db", tuple(roster), "a", "a"), roster[0])
    assert sim.rs.violations == []


# --- 2. arbiters on MongoDB 5.0+


@pytest.mark.parametrize("data_clusters", ["abab", "ab"], ids=["4 data + arbiter", "2 data + arbiter"])
def test_arbiter_in_a_third_cluster_on_mongodb_5_rules(sim: Simulator, data_clusters: str) -> None:
    roster = [*members(sim, *data_clusters), arbiter(sim, len(data_clusters), "c")]
    done = reconcile(sim, roster, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in roster}
    assert sim.rs.default_write_concern == {"w": "majority"}
    kinds = [type(a).__name__ for a in done]
    assert kinds.index("SetDefaultWriteConcern") < next(i for i, a in enumerate(done)
                                                        if isinstance(a, AddMember) and a.member.arbiter_only)
    arbiter_added = next(i for i, c in enumerate(sim.rs.reconfigs) if any(m.get("arbiterOnly") for m in c["members"]))
    data_voters = [m for m in sim.rs.reconfigs[arbiter_added]["members"] if m["votes"] and not m.get("arbiterOnly")]
    assert len(data_voters) == len(data_clusters)  # the arbiter joined after every data voter
    assert one_vote_at_a_time(sim)
    # The arbiter's cluster reads it with hello and the set from a data member: it sees the whole set.
    seen = adapter("c").observe(Roster("db", tuple(roster), "a", "c"), frozenset(sim.servers))
    assert seen.primary == roster[0].host
    assert seen.states[roster[-1].host] == "ARBITER"
    assert isinstance(next_action(Roster("db", tuple(roster), "a", "c"), seen), Noop)


def test_the_simulator_refuses_an_arbiter_that_changes_the_implicit_write_concern(sim: Simulator) -> None:
    roster = members(sim, "a")
    done = reconcile(sim, roster, "a", init="a")
    assert isinstance(done[1], SetDefaultWriteConcern)
    sim.rs.default_write_concern = None  # as if it had never been set
    late = arbiter(sim, 1, "b")
    with MongoClient(f"mongodb://{roster[0].host}/", directConnection=True, username="root",
                     password=USERS["root"].password, authMechanism="SCRAM-SHA-256") as client:
        current = client.admin.command("replSetGetConfig")["config"]
        current["members"].append({"_id": 1, "host": late.host, "arbiterOnly": True, "votes": 1, "priority": 0})
        current["version"] += 1
        with pytest.raises(OperationFailure) as refused:
            client.admin.command("replSetReconfig", current)
    assert refused.value.code == 103
    assert "would change the implicit default write concern" in str(refused.value)


# --- 3. never a second replica set


def test_two_init_clusters_acting_at_once_make_exactly_one_set(sim: Simulator) -> None:
    """Cluster a holds a stale roster copy (a initiates); b holds the new one (b initiates, member 0 moved to d).
    Both observe every member uninitialised, then act at the same moment."""
    old = members(sim, "a", "b", "c")
    moved = Member(0, sim.add_host(ROOT), 1, 1.0, cluster="d")
    rosters = {"a": Roster("db", tuple(old), "a", "a"),
               "b": Roster("db", (moved, replace_priority(old[1], 2.0), old[2]), "b", "b")}
    adapters = {c: adapter(c) for c in rosters}
    observed = {c: adapters[c].observe(r, frozenset(sim.servers)) for c, r in rosters.items()}
    actions = {c: next_action(rosters[c], observed[c]) for c in rosters}
    assert all(isinstance(a, Initiate) for a in actions.values()), actions
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def act(cluster: str) -> None:
        barrier.wait()
        try:
            adapters[cluster].act(rosters[cluster], observed[cluster], actions[cluster])
            outcomes[cluster] = "initiated"
        except Temporary as exc:
            outcomes[cluster] = str(exc)

    threads = [threading.Thread(target=act, args=(c,)) for c in rosters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()).count("initiated") == 1, outcomes
    assert len(sim.rs.initiates) == 1
    assert sim.rs.violations == []


def replace_priority(member: Member, priority: float) -> Member:
    return Member(member.id, member.host, member.votes, priority, member.arbiter_only, member.cluster)


def test_an_unreachable_member_is_unknown_not_uninitialised(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    sim.take_down(roster[2].host)
    mine = Roster("db", tuple(roster), "a", "a")
    observed = adapter("a").observe(mine, frozenset(sim.servers))
    assert observed.unknown == {roster[2].host}
    assert "counts as unknown, not uninitialised" in next_action(mine, observed).reason
    assert sim.rs.initiates == []


def test_a_roster_that_says_initialized_is_never_initiated(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")  # every member fresh, as after losing every data directory
    mine = Roster("db", tuple(roster), "a", "a", initialized=True)
    observed = adapter("a").observe(mine, frozenset(sim.servers))
    assert observed.unknown == frozenset()
    assert "was initiated before (spec.initialized)" in next_action(mine, observed).reason
    assert sim.rs.initiates == []


def test_a_new_init_cluster_never_initiates_a_second_set(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    sim.take_down(roster[0].host)  # cluster a is lost with the primary; b and c elect a new one
    assert sim.rs.primary == roster[1].host
    moved = [Member(0, sim.add_host(ROOT), 1, 2.0, cluster="d"), roster[1], roster[2]]
    # even a roster that (wrongly) names d, whose only member is new, as the init cluster must not split the set
    reconcile(sim, moved, "bcd", init="d")
    assert sim.rs.violations == []
    assert config(sim) == {(m.id, m.host, 1) for m in moved}


# --- 4. credentials that change


def rotated_after_converging(sim: Simulator) -> tuple[list[Member], dict[str, MongoAdapter], dict[str, Credentials]]:
    """Three members converged; then every Secret is rotated, root's included."""
    roster = members(sim, "a", "b", "c")
    adapters: dict[str, MongoAdapter] = {}
    reconcile(sim, roster, "abc", init="a", adapters=adapters)
    rotated = credentials(1)
    for a in adapters.values():
        a.users = rotated
    return roster, adapters, rotated


def test_password_rotation_is_carried_out_with_update_user(sim: Simulator) -> None:
    roster, adapters, rotated = rotated_after_converging(sim)
    done = reconcile(sim, roster, "abc", init="a", adapters=adapters)
    assert sorted((type(a).__name__, getattr(a, "user", "")) for a in done) == [
        ("UpdateUser", "clusterAdmin"), ("UpdateUser", "clusterMonitor"), ("UpdateUser", "root")]
    fresh = adapter("a", rotated)  # a reconciler started after the rotation logs in with the new passwords only
    seen = fresh.observe(Roster("db", tuple(roster), "a", "a"), frozenset(sim.servers))
    assert seen.auth_failed == ""
    assert seen.stale_users == frozenset()
    old = adapter("a", credentials(0))
    assert "code 18" in old.observe(Roster("db", tuple(roster), "a", "a"), frozenset(sim.servers)).auth_failed


def test_rotation_while_a_new_member_joins_with_the_new_root(sim: Simulator) -> None:
    """The new member's entrypoint made root from the rotated Secret; the set still has the old password."""
    roster, adapters, rotated = rotated_after_converging(sim)
    fresh = Member(3, sim.add_host((rotated["root"].user, rotated["root"].password)), cluster="a")
    bigger = [roster[0], fresh, roster[1], roster[2]]  # the fresh member is observed before the others
    done = reconcile(sim, bigger, "abc", init="a", adapters=adapters)
    assert ("UpdateUser", "root") in [(type(a).__name__, getattr(a, "user", "")) for a in done]
    assert config(sim) == {(m.id, m.host, 1) for m in bigger}
    seen = adapter("a", rotated).observe(Roster("db", tuple(bigger), "a", "a"), frozenset(sim.servers))
    assert seen.stale_users == frozenset()


# --- 5 and 6. acting on the primary only, under 308 storms, hang-ups and elections


def test_mongod_restarting_mid_reconfig(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster[:1], "a", init="a")
    sim.rs.hiccups[roster[0].host] = 2  # the primary hangs up on the next two reconfigs
    sim.rs.commit_lag = 1  # and asks to wait for the previous config to commit (308)
    sim.rs.lost_replies = 1  # and one applied reconfig loses its reply
    reconcile(sim, roster, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in roster}
    assert sim.rs.hiccups[roster[0].host] == 0
    assert sim.rs.violations == []  # no duplicate _id from re-applying an AddMember


def test_a_308_storm_ends_the_attempt_and_is_retried(sim: Simulator) -> None:
    roster = members(sim, "a", "b")
    a = adapter("a")
    reconcile(sim, roster[:1], "a", init="a", adapters={"a": a})
    sim.rs.commit_lag = 50
    sim.rs.uncommitted = 50
    mine = Roster("db", tuple(roster), "a", "a")
    observed = a.observe(mine, frozenset(sim.servers))
    with pytest.raises(Temporary) as storm:
        a.act(mine, observed, next_action(mine, observed))
    assert storm.value.reason == "Reconfiguring"
    assert sim.rs.refused.count(("replsetreconfig", 308)) == a.attempts


def test_not_writable_primary_ends_the_attempt_without_a_duplicate(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    adapters: dict[str, MongoAdapter] = {}
    reconcile(sim, roster, "abc", init="a", adapters=adapters)
    bigger = [*roster, Member(3, sim.add_host(ROOT), 0, 0.0, cluster="a")]
    mine = Roster("db", tuple(bigger), "a", "a")
    observed = adapters["a"].observe(mine, frozenset(sim.servers))
    action = next_action(mine, observed)
    assert isinstance(action, AddMember)
    with sim.lock:
        sim.rs.primary = roster[1].host  # an election between observing and acting
    with pytest.raises(Temporary) as ended:
        adapters["a"].act(mine, observed, action)
    assert ended.value.reason == "NotWritablePrimary"
    assert sim.rs.refused.count(("replsetreconfig", 10107)) == 1  # not retried
    assert sim.rs.violations == []


def test_a_stale_step_down_or_add_is_never_carried_out_twice(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    adapters: dict[str, MongoAdapter] = {}
    reconcile(sim, roster, "abc", init="a", adapters=adapters)
    mine = Roster("db", tuple(roster), "a", "a")
    observed = adapters["a"].observe(mine, frozenset(sim.servers))
    with pytest.raises(Temporary) as ended:  # a step-down sent to a member that is no longer primary
        adapters["a"].act(mine, observed, StepDown("stale", roster[1].host))
    assert ended.value.reason == "NotWritablePrimary"
    before = len(sim.rs.reconfigs)
    adapters["a"].act(mine, observed, AddMember("stale", Member(2, roster[2].host, 0, 0.0, cluster="c")))
    assert len(sim.rs.reconfigs) == before  # member 2 is in the config already: nothing sent
    assert sim.rs.violations == []


def test_nine_members_keep_seven_voters(sim: Simulator) -> None:
    roster = members(sim, *"abcabcabc")
    reconcile(sim, roster, "abc", init="a", rounds=80)
    assert config(sim) == {(m.id, m.host, m.votes) for m in roster}
    assert all(len(sim.rs.voters(c)) <= 7 for c in sim.rs.reconfigs)
    assert len(sim.rs.voters(sim.rs.config or {})) == 7
    assert one_vote_at_a_time(sim)


def test_scale_three_to_five_and_back(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    bigger = [*roster, Member(3, sim.add_host(ROOT), cluster="a"), Member(4, sim.add_host(ROOT), cluster="b")]
    reconcile(sim, bigger, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in bigger}
    reconcile(sim, roster, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in roster}


def chosen_votes(roster: Sequence[Member], init: str) -> list[Member]:
    """The roster with the voters fedrender's renderer chooses next, the roster's votes being the previous
    render's (fedrender.scheduler.voters; priority as rules/mongodb/pack.yaml gives it: 0 without a vote)."""
    ordinal = {m.id: sum(o.cluster == m.cluster and o.id < m.id for o in roster) for m in roster}
    voting = choose_voters([Seat(m.id, m.cluster, "", ordinal[m.id]) for m in roster],
                           {m.id: m.votes > 0 for m in roster}, init)
    return [replace(m, votes=int(m.id in voting.voters), priority=(
        (2.0 if m.cluster == init and ordinal[m.id] == 0 else 1.0) if m.id in voting.voters else 0.0))
        for m in roster]


def test_a_seventh_voter_after_failover_and_scale_down_takes_one_reconfig(sim: Simulator) -> None:
    """The issue's set: 8 members of which 6 vote (`_id < 7` after member 6 was removed). The next render gives
    member 7 the seventh vote: one ChangeVotes, one reconfig, no other vote touched."""
    roster = [replace(m, votes=0, priority=0.0) if m.id >= 6 else m for m in members(sim, *"abcdabcd")]
    roster = [replace(m, id=m.id + 1) if m.id >= 6 else m for m in roster]  # _ids 0-5, 7, 8
    reconcile(sim, roster, "abcd", init="a", rounds=80)
    assert len(sim.rs.voters(sim.rs.config or {})) == 6
    chosen = chosen_votes(roster, "a")
    assert [m.id for m in chosen if m.votes] == [0, 1, 2, 3, 4, 5, 7]
    before = len(sim.rs.reconfigs)
    done = reconcile(sim, chosen, "abcd", init="a")
    assert [type(a).__name__ for a in done] == ["ChangeVotes"]
    assert len(sim.rs.reconfigs) == before + 1
    assert config(sim) == {(m.id, m.host, m.votes) for m in chosen}
    assert sim.rs.violations == []


def test_a_vote_moved_off_a_cluster_majority_is_taken_before_it_is_given(sim: Simulator) -> None:
    """Seven voters, four of them in cluster a: fedrender moves one vote from a to c. With 7 voters already,
    the reconciler takes the vote first and gives it after, one voting change per reconfig."""
    roster = members(sim, *"aaaabbbcc")  # _ids 0-6 vote: a holds 4 of the 7
    reconcile(sim, roster, "abc", init="a", rounds=90)
    chosen = chosen_votes(roster, "a")
    assert [(m.id, m.votes) for m in chosen if m.votes != next(r.votes for r in roster if r.id == m.id)] == [
        (3, 0), (7, 1)]
    before = len(sim.rs.reconfigs)
    done = reconcile(sim, chosen, "abc", init="a")
    assert all(isinstance(a, ChangeVotes) for a in done)
    assert [(a.member.id, a.member.votes) for a in done if isinstance(a, ChangeVotes)] == [(3, 0), (7, 1)]
    assert config(sim) == {(m.id, m.host, m.votes) for m in chosen}
    assert all(len(sim.rs.voters(c)) <= 7 for c in sim.rs.reconfigs[before:])
    assert one_vote_at_a_time(sim)
    assert sim.rs.violations == []


def test_the_simulator_refuses_a_priority_without_a_vote(sim: Simulator) -> None:
    """As mongod: "priority must be 0 when non-voting (votes:0)" (member_config.cpp), code 93."""
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    with MongoClient(f"mongodb://{roster[0].host}/", directConnection=True, username="root",
                     password=USERS["root"].password, authMechanism="SCRAM-SHA-256") as client:
        current = client.admin.command("replSetGetConfig")["config"]
        current["members"][2].update(votes=0, priority=1)
        current["version"] += 1
        with pytest.raises(OperationFailure) as refused:
            client.admin.command("replSetReconfig", current)
    assert refused.value.code == 93
    assert "priority must be 0 when non-voting (votes:0)" in str(refused.value)


def test_the_primarys_cluster_lost_and_its_members_moved_converge_without_force(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c", "a", "b")
    reconcile(sim, roster, "abc", init="a")
    for member in roster:
        if member.cluster == "a":
            sim.take_down(member.host)  # cluster a is lost: its members and the primary with it
    assert sim.rs.primary in {m.host for m in roster if m.cluster != "a"}
    moved = [Member(m.id, sim.add_host(ROOT), 1, 1.0, cluster="d") if m.cluster == "a" else m for m in roster]
    reconcile(sim, moved, "bcd", init="b", rounds=80)
    assert config(sim) == {(m.id, m.host, 1) for m in moved}
    assert sim.rs.violations == []  # never force, one vote at a time
    assert one_vote_at_a_time(sim)


def test_the_primary_steps_down_before_it_is_removed(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    smaller = [roster[1], roster[2]]
    done = reconcile(sim, smaller, "abc", init="b")
    assert isinstance(done[0], StepDown)
    assert sim.rs.primary == roster[1].host
    assert config(sim) == {(m.id, m.host, 1) for m in smaller}


def test_roster_tags_reach_the_replica_set_config(sim: Simulator) -> None:
    roster = [Member(m.id, m.host, m.votes, m.priority, cluster=m.cluster,
                     tags=(("cluster", m.cluster), ("region", f"r-{m.cluster}")))
              for m in members(sim, "a", "b", "c")]
    reconcile(sim, roster, "abc", init="a")
    assert sim.rs.config is not None
    assert {m["_id"]: m["tags"] for m in sim.rs.config["members"]} == {
        i: {"cluster": c, "region": f"r-{c}"} for i, c in enumerate("abc")}


def test_passwords_never_reach_repr_or_logs(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    assert "pw" not in repr(USERS)
    assert not any("-pw-" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("release", [(4, 4), (5, 0), (8, 0)], ids=lambda r: f"{r[0]}.{r[1]}")
def test_a_set_forms_with_an_arbiter_on_every_release_pymongo_speaks_to(sim: Simulator,
                                                                       release: tuple[int, int]) -> None:
    # 4.4 reports getDefaultRWConcern without defaultWriteConcernSource, and only once a default was set.
    sim.rs.server_version = release
    roster = [*members(sim, "a", "b"), arbiter(sim, 2, "c")]
    done = reconcile(sim, roster, "abc", init="a")
    assert config(sim) == {(m.id, m.host, 1) for m in roster}
    assert sim.rs.default_write_concern == {"w": "majority"}
    assert [type(a).__name__ for a in done].count("SetDefaultWriteConcern") == 1
    assert not sim.rs.violations
    assert one_vote_at_a_time(sim)


# --- two-phase scale-down (issue 14 §2): the roster marks members leaving while their pods still run


def leaving(roster: Sequence[Member], *ids: int) -> list[Member]:
    """The roster a scale-down's first render gives: ``ids`` marked leaving, without votes or priority."""
    return [replace(m, votes=0, priority=0.0, leaving=True) if m.id in ids else m for m in roster]


def test_leaving_members_lose_votes_one_at_a_time_and_leave_while_their_pods_run(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c", "a", "b")
    reconcile(sim, roster, "abc", init="a")
    before = len(sim.rs.reconfigs)
    done = reconcile(sim, leaving(roster, 3, 4), "abc", init="a")
    assert [(type(a).__name__, a.member.id) for a in done] == [
        ("ChangeVotes", 3), ("RemoveMember", 3), ("ChangeVotes", 4), ("RemoveMember", 4)]
    assert [len(sim.rs.voters(c)) for c in sim.rs.reconfigs[before:]] == [4, 4, 3, 3]
    assert one_vote_at_a_time(sim)
    assert not sim.rs.down  # every pod ran throughout
    assert config(sim) == {(m.id, m.host, 1) for m in roster[:3]}
    for member in roster[3:]:  # only now does a later render shrink the StatefulSets
        sim.pod_removed(member.host)
    assert sim.rs.violations == []
    assert reconcile(sim, leaving(roster, 3, 4), "abc", init="a") == []  # never added again


def test_a_leaving_primary_steps_down_first(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    assert sim.rs.primary == roster[0].host
    done = reconcile(sim, leaving(roster, 0), "abc", init="a")
    assert [type(a).__name__ for a in done] == ["StepDown", "ChangeVotes", "RemoveMember"]
    assert sim.rs.primary in {roster[1].host, roster[2].host}
    assert config(sim) == {(m.id, m.host, 1) for m in roster[1:]}
    sim.pod_removed(roster[0].host)
    assert sim.rs.violations == []


def test_a_leaving_member_is_never_initiated_with(sim: Simulator) -> None:
    roster = members(sim, "a", "a", "b")
    done = reconcile(sim, leaving(roster, 0), "ab", init="a")
    assert isinstance(done[0], Initiate)
    assert done[0].member.id == 1
    assert config(sim) == {(m.id, m.host, 1) for m in roster[1:]}


def test_the_simulator_refuses_a_reconfig_without_a_majority_of_the_new_voters(sim: Simulator) -> None:
    """As mongod's quorum check for replSetReconfig: a majority of the new config's voters must respond
    (74 NodeNotFound, "Quorum check failed because not enough voting nodes responded")."""
    roster = members(sim, "a", "b", "c", "a", "b")
    reconcile(sim, roster, "abc", init="a")
    sim.take_down(roster[3].host)
    sim.take_down(roster[4].host)
    with MongoClient(f"mongodb://{roster[0].host}/", directConnection=True, username="root",
                     password=USERS["root"].password, authMechanism="SCRAM-SHA-256") as client:
        current = client.admin.command("replSetGetConfig")["config"]
        current["members"][2].update(votes=0, priority=0)  # 4 voters left, of which 2 up
        current["version"] += 1
        with pytest.raises(OperationFailure) as refused:
            client.admin.command("replSetReconfig", current)
    assert refused.value.code == 74
    assert "Quorum check failed" in str(refused.value)


def test_the_simulator_records_a_pod_removed_while_its_member_is_configured(sim: Simulator) -> None:
    roster = members(sim, "a", "b", "c")
    reconcile(sim, roster, "abc", init="a")
    sim.pod_removed(roster[2].host)
    assert sim.rs.violations == [f"the pod of {roster[2].host} was removed while the configuration lists it"]
