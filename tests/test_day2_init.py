"""Init only once (issue 14 section 6): once an observed state shows the replica set initiated, the state and the
rendered roster say so for good, and no reconciler initiates it again, even when the init cluster moves."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.decide import Member, Noop, Roster, next_action
from reconciler.kube import roster as parse_roster
from tests.conftest import run
from tests.mongosim import Simulator
from tests.observed import aggregated, observed, rendered_mrs, snapshot
from tests.test_reconciler_wire import ROOT, adapter, reconcile
from tests.topology import cluster_doc, write_inputs

CLUSTERS = [cluster_doc("a", "eu"), cluster_doc("b", "us"), cluster_doc("c", "ap"), cluster_doc("d", "sa")]


def render(args: list[str], out: Path, clusters: Path | None = None) -> dict[str, Any]:
    """Render team/db; its rendered MongoReplicaSet."""
    result = run(["render", args[0], args[1], "--clusters", str(clusters or args[3]), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    return rendered_mrs(out, "team", "db")


def state(out: Path) -> dict[str, Any]:
    found = json.loads((out / ".fedrender" / "state.json").read_text())
    assert found["schemaVersion"] == 2
    return found["instances"]["team/db"]  # type: ignore[no-any-return]


def lost(clusters: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    out = copy.deepcopy(clusters)
    for cluster in out:
        if cluster["metadata"]["name"] == name:
            cluster["status"]["conditions"][0].update(status="False", reason="ClusterNotReachable", message="gone")
    return out


def test_an_observed_initialized_set_is_recorded_and_never_forgotten(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, CLUSTERS)
    out = tmp_path / "out"
    first = render(args, out)
    assert first["spec"]["initialized"] is False
    assert state(out)["initialized"] is False
    # the set was initiated; the snapshot shows it (current generation)
    seen = snapshot(Path(args[3]), tmp_path / "seen.yaml", observed(first, 1, aggregated(first, 1, 1, 3)))
    assert render(args, out, seen)["spec"]["initialized"] is True
    assert state(out)["initialized"] is True
    # later snapshots without the MongoReplicaSet, or with a status that says nothing: still initialized
    assert render(args, out)["spec"]["initialized"] is True
    silent = snapshot(Path(args[3]), tmp_path / "silent.yaml", observed(first, 2, aggregated(first, 2, None, 0)))
    assert render(args, out, silent)["spec"]["initialized"] is True
    assert state(out)["initialized"] is True


def test_a_stale_observation_still_counts_for_initialized(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, CLUSTERS)
    out = tmp_path / "out"
    first = render(args, out)
    stale = snapshot(Path(args[3]), tmp_path / "stale.yaml", observed(first, 5, aggregated(first, 5, 4, 2)))
    result = run(["explain", args[0], args[1], "--clusters", str(stale), "--out", str(out), "-o", "json"])
    [found] = json.loads(result.stdout)["instances"]
    assert found["observed"]["usable"] is False
    assert found["observed"]["reason"].startswith("its status is for generation 4 of 5")
    assert found["initialized"] is True
    assert render(args, out, stale)["spec"]["initialized"] is True


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["none", "fresh", "stale", "initialized", "stale-initialized"]), min_size=1,
                max_size=4))
def test_initialized_is_true_from_the_first_observation_that_shows_it_on(tmp_path_factory: pytest.TempPathFactory,
                                                                       sequence: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("seq")
    args = write_inputs(tmp, CLUSTERS)
    out = tmp / "out"
    mrs = render(args, out)
    seen_initialized = False
    for step, kind in enumerate(sequence):
        objects = []
        if kind != "none":
            version = 2 if "initialized" in kind else 0
            objects.append(observed(mrs, 7, aggregated(mrs, 7, 6 if kind.startswith("stale") else 7, version)))
        mrs = render(args, out, snapshot(Path(args[3]), tmp / f"s{step}.yaml", *objects))
        seen_initialized = seen_initialized or "initialized" in kind
        assert mrs["spec"]["initialized"] is seen_initialized
        assert state(out)["initialized"] is seen_initialized


def test_after_the_init_cluster_moves_the_roster_still_says_initialized(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, CLUSTERS)
    out = tmp_path / "out"
    first = render(args, out)
    init = first["spec"]["initCluster"]
    moved = snapshot(lost(CLUSTERS, init), tmp_path / "moved.yaml", observed(first, 1, aggregated(first, 1, 1, 3)))
    second = render(args, out, moved)
    assert second["spec"]["initCluster"] != init
    assert second["spec"]["initialized"] is True


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator("db")
    yield simulator
    simulator.stop()


def test_a_rendered_roster_after_an_init_cluster_failover_never_initiates(tmp_path: Path, sim: Simulator) -> None:
    """Render, let the set form, observe it initialized, lose the init cluster: the rendered MongoReplicaSet, parsed
    by the reconciler's own roster parser, says initialized, the set converges on it without a replSetInitiate,
    and the new init cluster's reconciler does not initiate even where every other check is blind (its member a
    fresh mongod, no other member it can ask). MongoDB manual, replSetInitiate:
    a set is initiated once; initiating again on another member makes a second set."""
    args = write_inputs(tmp_path, CLUSTERS)
    out = tmp_path / "out"
    first = render(args, out)
    hosts = {m["host"]: sim.add_host(ROOT) for m in first["spec"]["members"]}

    def parsed(mrs: dict[str, Any], cluster: str) -> Roster:
        found = parse_roster(mrs, cluster)
        return Roster(found.name, tuple(Member(m.id, hosts[m.host], m.votes, m.priority, m.arbiter_only,
                                               m.cluster, m.tags) for m in found.members),
                      found.init_cluster, cluster, initialized=found.initialized)

    init = first["spec"]["initCluster"]
    reconcile(sim, parsed(first, init).members, sorted({m["cluster"] for m in first["spec"]["members"]}), init)
    assert len(sim.rs.initiates) == 1
    assert sim.rs.config is not None
    seen = observed(first, 1, aggregated(first, 1, 1, sim.rs.config["version"]))
    second = render(args, out, snapshot(lost(CLUSTERS, init), tmp_path / "down.yaml", seen))
    new_init = second["spec"]["initCluster"]
    assert new_init != init
    for m in first["spec"]["members"]:
        if m["cluster"] == init:
            sim.take_down(hosts[m["host"]])  # the lost cluster's member
    for m in second["spec"]["members"]:
        hosts.setdefault(m["host"], sim.add_host(ROOT))  # the moved member: a fresh mongod in its new cluster
    mine = parsed(second, new_init)
    assert mine.initialized is True
    reconcile(sim, mine.members, sorted({m["cluster"] for m in second["spec"]["members"]}), new_init)
    assert {m["host"] for m in sim.rs.config["members"]} == {m.host for m in mine.members}
    # the same roster, its local member a fresh mongod that no member of the set reaches (a new pod on an empty volume)
    blind = Roster(mine.name, tuple(Member(m.id, sim.add_host(ROOT), m.votes, m.priority, m.arbiter_only, m.cluster,
                                           m.tags) for m in mine.local()), mine.init_cluster, new_init,
                   initialized=mine.initialized)
    fresh = frozenset(m.host for m in blind.members)
    action = next_action(blind, adapter(new_init).observe(blind, fresh))
    assert isinstance(action, Noop), action
    assert "spec.initialized" in action.reason
    assert len(sim.rs.initiates) == 1  # no replSetInitiate since the set formed
