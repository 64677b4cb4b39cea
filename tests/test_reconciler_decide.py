"""The reconciler's pure core: a table of every branch of next_action, and convergence properties."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.decide import (
    USERS,
    Action,
    AddMember,
    ChangeVotes,
    CreateUser,
    Initiate,
    Member,
    Noop,
    Observed,
    RemoveMember,
    Roster,
    SetDefaultWriteConcern,
    StepDown,
    UpdateUser,
    apply,
    implicit_write_concern_majority,
    next_action,
    voting_changes,
)

A0 = Member(0, "a:1", 1, 2.0, cluster="a")
B1 = Member(1, "b:1", 1, 1.0, cluster="b")
C2 = Member(2, "c:1", 1, 1.0, cluster="c")
ROSTER = Roster("db", (A0, B1, C2), init_cluster="a", this_cluster="a")
SYNCED = Observed(config=(A0, B1, C2), config_version=3, primary="a:1",
                  states={"a:1": "PRIMARY", "b:1": "SECONDARY", "c:1": "SECONDARY"}, users=frozenset(USERS),
                  default_write_concern="majority")
ARB = Member(3, "c:9", 1, 0.0, True, "c")
READY_A = frozenset({"a:1"})


def roster(*members: Member, this: str = "a", init: str = "a") -> Roster:
    return Roster("db", members, init_cluster=init, this_cluster=this)


def observed(**changes: object) -> Observed:
    return replace(SYNCED, **changes)  # type: ignore[arg-type]


def off(member: Member) -> Member:
    return replace(member, votes=0, priority=0.0)


CASES: list[tuple[str, Roster, Observed, type[Action], str]] = [
    ("other cluster waits for init", roster(A0, B1, C2, this="b"), Observed(), Noop, "the init cluster a initiates"),
    ("init cluster without data member", roster(replace(A0, arbiter_only=True), B1), Observed(), Noop,
     "no data member here"),
    ("init waits for its pod", ROSTER, Observed(), Noop, "waiting for the pod of a:1"),
    ("init when the pod is ready", ROSTER, Observed(ready_pods=READY_A), Initiate, "initiate db with a:1"),
    ("an unreachable member is unknown, not uninitialised", ROSTER,
     Observed(ready_pods=READY_A, unknown=frozenset({"c:1"})), Noop, "c:1 cannot be asked"),
    ("never again once initiated", replace(ROSTER, initialized=True), Observed(ready_pods=READY_A), Noop,
     "was initiated before (spec.initialized)"),
    ("root cannot log in", ROSTER, observed(auth_failed="a:1: code 18"), Noop, "cannot log in as root"),
    ("the default write concern first", ROSTER, observed(default_write_concern=""), SetDefaultWriteConcern,
     "before any reconfig can change the implicit default"),
    ("a rotated Secret", ROSTER, observed(stale_users=frozenset({"clusterAdmin"})), UpdateUser,
     "the Secret of user clusterAdmin changed"),
    ("an arbiter waits for the data voters", roster(A0, B1, C2, ARB, Member(4, "a:2", cluster="a")), SYNCED,
     AddMember, "add a:2 as member 4 without a vote"),
    ("an arbiter joins after them", roster(A0, B1, C2, ARB), SYNCED, AddMember, "(arbiter)"),
    ("an arbiter leaves in one step", roster(A0, B1, C2), observed(config=(A0, B1, C2, ARB)), RemoveMember,
     "remove member 3 (c:9)"),
    ("tags reach the config", roster(A0, B1, replace(C2, tags=(("cluster", "c"), ("zone", "z1")))), SYNCED,
     ChangeVotes, "set the tags of member 2"),
    ("never a second set", ROSTER, Observed(ready_pods=frozenset({"a:1"}), exists_on="b:1"), Noop,
     "db already exists (b:1 is a member): not initiating again"),
    ("no primary", ROSTER, observed(primary=""), Noop, "no primary"),
    ("primary elsewhere", ROSTER, observed(primary="b:1"), Noop, "b:1 is in another cluster"),
    ("then the others", ROSTER, observed(users=frozenset({"root"})), CreateUser, "user clusterAdmin is missing"),
    ("add without a vote", roster(A0, B1, C2, Member(3, "a:2", cluster="a")), SYNCED, AddMember,
     "add a:2 as member 3 without a vote"),
    ("promote a SECONDARY", roster(A0, B1, C2, Member(3, "a:2", cluster="a")),
     observed(config=(A0, B1, C2, off(Member(3, "a:2", cluster="a"))), states={**SYNCED.states, "a:2": "SECONDARY"}),
     ChangeVotes, "give member 3"),
    ("wait for a new member to catch up", roster(A0, B1, C2, Member(3, "a:2", cluster="a")),
     observed(config=(A0, B1, C2, off(Member(3, "a:2", cluster="a"))), states={**SYNCED.states, "a:2": "STARTUP2"}),
     Noop, "waiting for a:2 to become SECONDARY"),
    ("demote before removing", roster(A0, B1), SYNCED, ChangeVotes, "take the vote from member 2"),
    ("remove once voteless", roster(A0, B1), observed(config=(A0, B1, off(C2))), RemoveMember, "remove member 2"),
    ("step the primary down before it leaves", roster(B1, C2, this="a"), SYNCED, StepDown, "step the primary a:1"),
    ("step the primary down before demotion", roster(off(A0), B1, C2), SYNCED, StepDown, "step the primary a:1"),
    ("moved member leaves first", roster(A0, B1, replace(C2, host="d:1", cluster="d")), SYNCED, ChangeVotes,
     "take the vote from member 2 (c:1)"),
    ("priority change", roster(A0, B1, replace(C2, priority=3.0)), SYNCED, ChangeVotes, "priority of member 2 to 3"),
    ("primary priority to zero steps down", roster(replace(A0, priority=0.0), B1, C2), SYNCED, StepDown,
     "before its priority drops to 0"),
    ("in sync", ROSTER, SYNCED, Noop, "in sync with the roster (config version 3)"),
    ("no one else can be elected", roster(B1, C2), observed(states={"a:1": "PRIMARY", "b:1": "STARTUP2",
                                                                   "c:1": "RECOVERING"}),
     Noop, "must step down before it loses its vote or leaves, but no other member can be elected yet"),
]


@pytest.mark.parametrize(("name", "the_roster", "seen", "kind", "reason"), CASES, ids=[c[0] for c in CASES])
def test_next_action(name: str, the_roster: Roster, seen: Observed, kind: type[Action], reason: str) -> None:
    action = next_action(the_roster, seen)
    assert type(action) is kind, action
    assert reason in action.reason


def test_an_arbiter_waits_while_seven_members_vote() -> None:
    seven = tuple(Member(i, f"h:{i}", cluster="a") for i in range(7))
    arbiter = Member(7, "h:7", 1, 0.0, True, "a")
    seen = Observed(config=seven, primary="h:0", states={m.host: "SECONDARY" for m in seven}, users=frozenset(USERS),
                    default_write_concern="majority")
    assert isinstance(next_action(roster(*seven, arbiter), seen), Noop)


def test_at_most_seven_voters() -> None:
    seven = tuple(Member(i, f"h:{i}", cluster="a") for i in range(7))
    eighth = Member(7, "h:7", cluster="a")
    seen = Observed(config=(*seven, off(eighth)), primary="h:0", states={m.host: "SECONDARY" for m in (*seven, eighth)},
                    users=frozenset(USERS), default_write_concern="majority")
    assert isinstance(next_action(roster(*seven, eighth), seen), Noop)


# --- a model replica set, and every cluster's reconciler deciding at each step

@st.composite
def rosters(draw: st.DrawFn, homes: dict[int, str]) -> tuple[Member, ...]:
    """A roster as the scheduler makes them: members keep their host (``homes``: _id -> cluster)."""
    chosen = draw(st.lists(st.sampled_from(sorted(homes)), min_size=1, max_size=7, unique=True))
    data = tuple(Member(i, f"{homes[i]}:{i}", 1, draw(st.sampled_from([1.0, 2.0])), cluster=homes[i])
                 for i in sorted(chosen))
    # The pack adds an arbiter only to make an even number of voters odd (config.arbiter).
    wants_arbiter = len(data) % 2 == 0 and draw(st.booleans())
    return data + ((Member(10, "c:10", 1, 0.0, True, "c"),) if wants_arbiter else ())


sequences = st.dictionaries(st.integers(0, 9), st.sampled_from(["a", "b", "c"]), min_size=1).flatmap(
    lambda homes: st.lists(rosters(homes), min_size=1, max_size=4))


def step(rosters_by_cluster: dict[str, Roster], config: list[Member], primary: str,
         users: set[str]) -> tuple[list[Member], str, Action | None]:
    states = {m.host: ("PRIMARY" if m.host == primary else "SECONDARY") for m in config}
    hosts = {m.host for r in rosters_by_cluster.values() for m in r.members} | {m.host for m in config}
    seen = Observed(tuple(config), len(config), primary, states, frozenset(hosts), frozenset(users),
                    default_write_concern="majority" if "wc" in users else "")
    acting = [(c, a) for c, r in rosters_by_cluster.items()
              if not isinstance(a := next_action(r, seen), Noop)]
    assert len(acting) <= 1, f"two reconcilers act at once: {acting}"
    if not acting:
        return config, primary, None
    action = acting[0][1]
    if isinstance(action, Initiate):
        return [action.member], action.member.host, action
    if isinstance(action, CreateUser):
        users.add(action.user)
        return config, primary, action
    if isinstance(action, SetDefaultWriteConcern):
        users.add("wc")
        return config, primary, action
    if isinstance(action, StepDown):
        electable = [m for m in config if m.votes and m.priority and m.host != primary]
        return config, (min(electable, key=lambda m: m.id).host if electable else primary), action
    after = apply(config, action)
    assert voting_changes(config, after) <= 1, action
    assert sum(m.votes > 0 for m in after) <= 7
    assert all(m.votes == 1 and m.priority == 0 for m in after if m.arbiter_only), action  # arbiters must vote
    # MongoDB refuses priority > 0 without a vote (member_config.cpp: "priority must be 0 when non-voting").
    assert all(m.priority == 0 for m in after if m.votes == 0), action
    if implicit_write_concern_majority(config) != implicit_write_concern_majority(after):
        assert "wc" in users, f"MongoDB 5.0+ refuses {action} before setDefaultRWConcern"
    return after, primary, action


@settings(max_examples=200, deadline=None)
@given(sequences)
def test_any_sequence_of_rosters_converges_one_vote_at_a_time(sequence: list[tuple[Member, ...]]) -> None:
    converge(sequence)


@st.composite
def voter_choices(draw: st.DrawFn) -> list[tuple[Member, ...]]:
    """Renders of one set of members (they stay, on their hosts) whose voters change as fedrender chooses them:
    an odd number of at most 7 voters, the others with votes 0 and priority 0, so votes move between members
    that stay (a scale-down that removed a voter, a vote moved off a cluster holding a majority)."""
    homes = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=9))
    sequence = []
    for _ in range(draw(st.integers(1, 4))):
        size = min(len(homes), 7)
        size -= 1 - size % 2
        voters = set(draw(st.permutations(range(len(homes))))[:size])
        sequence.append(tuple(Member(i, f"{c}:{i}", int(i in voters), (2.0 if i == min(voters) else 1.0)
                                     if i in voters else 0.0, cluster=c) for i, c in enumerate(homes)))
    return sequence


@settings(max_examples=200, deadline=None)
@given(voter_choices())
def test_votes_moving_between_members_that_stay_converge_one_vote_at_a_time(
        sequence: list[tuple[Member, ...]]) -> None:
    converge(sequence)


def test_a_failover_move_converges() -> None:
    """Member 2's cluster c is lost: the roster moves it to d with the same _id."""
    before = (A0, B1, C2)
    after = (A0, B1, Member(2, "d:2", 1, 1.0, cluster="d"))
    converge([before, after])


def converge(sequence: list[tuple[Member, ...]]) -> None:
    config: list[Member] = []
    primary, users = "", {"root"}  # root comes from the image's entrypoint
    for members in sequence:
        init = min(members, key=lambda m: (-m.priority, m.id)).cluster
        by_cluster = {c: Roster("db", members, init, c) for c in ("a", "b", "c", "d")}
        for _ in range(60):
            config, primary, action = step(by_cluster, config, primary, users)
            if action is None:
                break
        else:
            pytest.fail("did not converge in 60 steps")
        assert {(m.id, m.host, m.votes, m.priority) for m in config} == {
            (m.id, m.host, m.votes, m.priority) for m in members}, (config, members)


@pytest.mark.parametrize(("data", "arbiters", "majority"), [(2, 1, False), (4, 1, True), (1, 1, False), (3, 0, True),
                                                           (1, 0, True)])
def test_implicit_default_write_concern(data: int, arbiters: int, majority: bool) -> None:
    """The manual's table: 2 data + 1 arbiter is w:1, 4 data + 1 arbiter is majority."""
    config = [Member(i, f"h:{i}") for i in range(data)]
    config += [Member(9 + i, f"a:{i}", 1, 0.0, True) for i in range(arbiters)]
    assert implicit_write_concern_majority(config) is majority


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_never_initiates_while_the_set_may_exist(data: st.DataObject) -> None:
    """Whatever else is seen: a set that exists somewhere, a roster saying it was initiated, or a member that
    could not be asked (unknown, not uninitialised) means no Initiate."""
    this = data.draw(st.sampled_from(["a", "b"]))
    members = (Member(0, "a:0", 1, 2.0, cluster="a"), Member(1, "b:0", cluster="b"), Member(2, "c:0", cluster="c"))
    hosts = [m.host for m in members]
    unknown = data.draw(st.frozensets(st.sampled_from(hosts)))
    exists_on = data.draw(st.sampled_from(["", *hosts]))
    initialized = data.draw(st.booleans())
    the_roster = Roster("db", members, data.draw(st.sampled_from(["a", "b"])), this, initialized=initialized)
    seen = Observed(ready_pods=frozenset(hosts), unknown=unknown, exists_on=exists_on)
    action = next_action(the_roster, seen)
    if unknown or exists_on or initialized or this != the_roster.init_cluster:
        assert not isinstance(action, Initiate), action
    else:
        assert isinstance(action, Initiate)


def test_a_leaving_arbiter_is_removed_in_one_reconfig_without_a_vote_change() -> None:
    """MongoDB refuses an arbiter without a vote, so a leaving arbiter is not demoted first: it is removed (one
    voting change), while its pod still runs."""
    roster = replace(ROSTER, members=(A0, B1, C2, replace(ARB, leaving=True)))
    seen = replace(SYNCED, config=(A0, B1, C2, ARB), states={**SYNCED.states, "c:9": "ARBITER"})
    action = next_action(roster, seen)
    assert isinstance(action, RemoveMember)
    assert action.member.host == "c:9"
    assert "the roster marks it leaving" in action.reason
    assert isinstance(next_action(roster, replace(seen, config=(A0, B1, C2))), Noop)
