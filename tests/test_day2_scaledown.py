"""Scale-down in two phases (issue 14 §2): a render never removes the pod of a member the replica set
configuration still lists; members first leave the configuration (the reconciler, one voting change per
reconfig), and only a render whose observed state shows them out shrinks the StatefulSets."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import State
from fedrender.pipeline.render import Inputs, render
from tests.day2world import World
from tests.observed import observed, snapshot
from tests.topology import cluster_doc, write_inputs

CLUSTERS = [cluster_doc("a", "eu"), cluster_doc("b", "us"), cluster_doc("c", "ap")]


def converged(tmp: Path, members: int, arbiter: bool = False) -> World:
    tmp.mkdir(exist_ok=True)
    world = World(tmp, CLUSTERS, arbiter=arbiter)
    world.render(members, observe="none")
    world.reconcile()
    world.render(members)  # the observed state: initialised, every member in the configuration
    world.reconcile()
    assert len(world.config) == members + (arbiter and members % 2 == 0)
    return world


def scale_down(tmp: Path, before: int, after: int) -> None:
    world = converged(tmp, before)
    first = world.render(after).instances[0]
    assert world.configured_without_pod() == []
    assert len(world.members()) == before  # every pod stays
    leaving = sorted(m["id"] for m in world.members() if m["leaving"])
    assert len(leaving) == before - after
    assert all(m["votes"] == 0 and m["priority"] == 0 for m in world.members() if m["leaving"])
    assert first.waiting == [f"members {', '.join(map(str, leaving))} leave the replica set configuration first "
                             f"(observed config version {world.version} still lists "
                             f"{', '.join(map(str, leaving))}); their pods, Services and NodePorts stay"]
    again = world.render(after)  # nothing happened yet: the same render
    assert sorted(m["id"] for m in world.members() if m["leaving"]) == leaving
    assert again.instances[0].waiting
    world.reconcile()
    assert sorted(world.config) == sorted(m["id"] for m in world.members() if not m["leaving"])
    done = world.render(after).instances[0]
    assert world.configured_without_pod() == []
    assert len(world.members()) == after
    assert not any(m["leaving"] for m in world.members())
    assert done.waiting == []
    assert done.allowed[0].startswith(f"members {', '.join(map(str, leaving))} left the replica set configuration")


def test_scale_down_5_to_2_never_removes_a_voting_pod_before_it_is_observed_out(tmp_path: Path) -> None:
    scale_down(tmp_path, 5, 2)


def test_scale_down_3_to_1_never_removes_a_voting_pod_before_it_is_observed_out(tmp_path: Path) -> None:
    scale_down(tmp_path, 3, 1)


def test_without_observed_state_leaving_members_keep_their_pods(tmp_path: Path) -> None:
    world = converged(tmp_path, 5)
    world.render(2)
    world.reconcile()  # they did leave, but no snapshot shows it
    result = world.render(2, observe="none").instances[0]
    assert len(world.members()) == 5
    assert result.waiting[0].startswith("members ")
    assert "leave the replica set configuration first (no current observed state: the snapshot has no " \
           "MongoReplicaSet team/db" in result.waiting[0]


def test_a_stale_observation_shrinks_nothing(tmp_path: Path) -> None:
    world = converged(tmp_path, 5)
    world.render(2)
    world.reconcile()
    result = world.render(2, observe="stale").instances[0]
    assert len(world.members()) == 5
    assert "its status is for generation" in result.waiting[0]


def test_a_scale_up_while_members_leave_reinstates_them(tmp_path: Path) -> None:
    world = converged(tmp_path, 5)
    before = {m["id"]: (m["cluster"], m["ordinal"], m["host"], m["nodePort"]) for m in world.members()}
    world.render(2)
    world.reconcile(2)  # one vote taken, one member removed, maybe
    world.render(5)
    assert world.configured_without_pod() == []
    assert {m["id"]: (m["cluster"], m["ordinal"], m["host"], m["nodePort"]) for m in world.members()} == before
    assert not any(m["leaving"] for m in world.members())
    world.reconcile()
    assert sorted(world.config) == sorted(before)


def test_scale_down_below_three_voters_says_what_availability_is_left(tmp_path: Path) -> None:
    two = converged(tmp_path / "two", 3).render(2).instances[0]
    assert any("a single member of 2 votes: losing it loses the primary" in w for w in two.warnings)
    one = converged(tmp_path / "one", 3).render(1).instances[0]
    assert any("a single member is left: losing it loses the primary and the only copy" in w for w in one.warnings)
    same = converged(tmp_path / "same", 3).render(3).instances[0]
    assert not any("after this scale-down" in w for w in same.warnings)


def test_an_arbiter_no_longer_wanted_leaves_before_its_pod_goes(tmp_path: Path) -> None:
    """2 data members and an arbiter -> 3 data members: the arbiter (it always votes: MongoDB refuses votes 0 on
    an arbiter) stays, marked leaving with its vote, until an observation shows it out of the configuration."""
    world = converged(tmp_path, 2, arbiter=True)
    arbiter = next(m for m in world.members() if m["arbiterOnly"])
    first = world.render(3).instances[0]
    assert world.configured_without_pod() == []
    kept = next(m for m in world.members() if m["arbiterOnly"])
    assert (kept["id"], kept["votes"], kept["leaving"], kept["host"]) == (arbiter["id"], 1, True, arbiter["host"])
    assert first.waiting[0].startswith(f"member {arbiter['id']} (the arbiter) leaves the replica set configuration "
                                       "first")
    roster = [m for m in world.mrs["spec"]["members"] if m["arbiterOnly"]] if world.mrs else []
    assert roster == [{**roster[0], "leaving": True, "votes": 1}]
    world.reconcile()
    assert arbiter["id"] not in world.config
    assert len(world.config) == 3
    done = world.render(3).instances[0]
    assert not any(m["arbiterOnly"] for m in world.members())
    assert done.allowed[0].startswith(f"members {arbiter['id']} left the replica set configuration")
    assert world.configured_without_pod() == []


def test_an_arbiter_leaving_while_a_seventh_voter_joins_is_not_an_eighth_voter(tmp_path: Path) -> None:
    """6 data members + arbiter -> 7: the leaving arbiter keeps its vote until its one reconfig, so the roster
    lists 8 members with a vote; the voter checks count the 7 that stay (the reconciler removes the arbiter
    before the seventh data member gets its vote: at most 7 voters at any time)."""
    world = converged(tmp_path, 6, arbiter=True)
    result = world.render(7)
    assert world.configured_without_pod() == []
    assert not any("voting" in w or "voters" in w for w in result.instances[0].warnings)
    world.reconcile()
    assert sum(m.votes for m in world.config.values()) == 7
    world.render(7)
    assert not any(m["arbiterOnly"] for m in world.members())


def test_scale_down_with_an_arbiter_keeps_every_voting_pod(tmp_path: Path) -> None:
    """4 data members + arbiter -> 3: a data member and the arbiter leave; neither pod goes before it is out."""
    world = converged(tmp_path, 4, arbiter=True)
    world.render(3)
    assert world.configured_without_pod() == []
    assert sum(m["leaving"] for m in world.members()) == 2
    world.reconcile()
    world.render(3)
    assert world.configured_without_pod() == []
    assert len(world.members()) == 3
    assert not any(m["arbiterOnly"] or m["leaving"] for m in world.members())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(st.integers(1, 7), min_size=2, max_size=4),
       steps=st.lists(st.integers(0, 6), min_size=4, max_size=4),
       seen=st.lists(st.sampled_from(["current", "current", "stale", "none"]), min_size=4, max_size=4),
       arbiter=st.booleans())
def test_no_render_removes_the_pod_of_a_member_in_the_observed_config(
        tmp_path_factory: object, counts: list[int], steps: list[int], seen: list[str], arbiter: bool) -> None:
    import pytest
    assert isinstance(tmp_path_factory, pytest.TempPathFactory)
    world = converged(tmp_path_factory.mktemp("seq"), counts[0], arbiter)
    for count, k, observe in zip(counts[1:], steps, seen, strict=False):
        world.render(count, observe=observe)
        assert world.configured_without_pod() == []
        world.reconcile(k)
    world.reconcile()
    world.render(counts[-1])
    assert world.configured_without_pod() == []
    assert len(world.members()) == counts[-1] + (arbiter and counts[-1] % 2 == 0)


def test_an_older_observation_of_the_same_hosts_never_lets_voting_members_go(tmp_path: Path) -> None:
    """5 -> 1 (members 1-4 leaving), observed out; 1 -> 5 takes them back (they vote again); then a render with
    the older snapshot (same _ids and hosts, but members 1-4 leaving) must not count it: the last render's roster
    has them voting, so their pods stay (a stale snapshot file reused in CI, or a forged one)."""
    world = converged(tmp_path, 5)
    world.render(1)
    world.reconcile()
    assert sorted(world.config) == [0]
    assert world.mrs is not None
    old_snapshot = observed(world.mrs, world.generation, world.status(world.generation))
    world.render(5)  # observed: 1-4 out; a scale-up takes them back (same _id, host, NodePort), voting again
    world.reconcile()
    assert len(world.config) == 5
    args = write_inputs(tmp_path, CLUSTERS, 1)
    stale = snapshot(Path(args[3]), tmp_path / "stale.yaml", old_snapshot)
    result = render(Inputs([Path(args[1])], stale), world.state)
    members = State.model_validate_json(result.files[STATE_FILE]).instances["team/db"].members
    assert len(members) == 5  # every pod stays
    assert result.instances[0].waiting
    assert "not the last render's" in result.instances[0].waiting[0] or "differs" in result.instances[0].waiting[0]
