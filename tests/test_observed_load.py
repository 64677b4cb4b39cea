"""Observed MongoReplicaSets in the snapshot (issue 14 section 1): loading them (spec strict, status tolerant, located
errors, duplicates) and when an observation counts (fedrender.day2.observe)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedrender.day2 import observe
from fedrender.models.observed import ObservedReplicaSet
from fedrender.models.state import InstanceState, MemberState
from tests.conftest import run
from tests.observed import aggregated, observed, rendered_mrs, snapshot
from tests.topology import cluster_doc, write_inputs

CLUSTERS = [cluster_doc("a", "eu"), cluster_doc("b", "us"), cluster_doc("c", "ap")]


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, Any]]:
    """team/db rendered once: (out, the --specs/--clusters args, its MongoReplicaSet)."""
    tmp = tmp_path_factory.mktemp("first")
    args = write_inputs(tmp, CLUSTERS)
    out = tmp / "out"
    result = run(["render", *args, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    return out, args, rendered_mrs(out, "team", "db")


def explain(args: list[str], out: Path, clusters: Path) -> Any:
    specs = args[:2]
    return run(["explain", *specs, "--clusters", str(clusters), "--out", str(out), "-o", "json"])


def instance(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    [found] = json.loads(result.stdout)["instances"]
    return found  # type: ignore[no-any-return]


def test_a_kubectl_list_of_clusters_and_mongoreplicasets_loads(first: tuple[Path, list[str], dict[str, Any]],
                                                                tmp_path: Path) -> None:
    out, args, mrs = first
    clusters = snapshot(Path(args[3]), tmp_path / "snap.yaml", observed(mrs, 3, aggregated(mrs, 3, 3, 4)))
    found = instance(explain(args, out, clusters))
    assert found["observed"]["present"] is True
    assert found["observed"]["usable"] is True, found["observed"]["reason"]
    assert found["observed"]["configVersion"] == 4
    assert [m["stateStr"] for m in found["observed"]["members"]] == ["PRIMARY", "SECONDARY", "SECONDARY"]
    assert found["initialized"] is True
    assert found["waiting"] == []
    text = run(["explain", *args[:2], "--clusters", str(clusters), "--out", str(out)])
    assert "  observed: generation 3, current; initialized, config version 4; phase Ready; members 0 PRIMARY, " \
           "1 SECONDARY, 2 SECONDARY; the roster says initialized" in text.stdout


def test_without_mongoreplicasets_explain_says_what_is_missing(first: tuple[Path, list[str], dict[str, Any]]) -> None:
    out, args, _ = first
    found = instance(explain(args, out, Path(args[3])))
    assert found["observed"]["present"] is False
    assert found["observed"]["reason"].startswith("the snapshot has no MongoReplicaSet team/db; run fedrender snapshot")
    assert found["initialized"] is False


def test_a_duplicate_mongoreplicaset_is_refused_at_its_line(first: tuple[Path, list[str], dict[str, Any]],
                                                            tmp_path: Path) -> None:
    out, args, mrs = first
    clusters = snapshot(Path(args[3]), tmp_path / "snap.yaml", observed(mrs), observed(mrs))
    result = explain(args, out, clusters)
    assert result.exit_code == 1
    lines = [i for i, text in enumerate(clusters.read_text().splitlines(), 1) if text.strip() == "name: db"]
    assert len(lines) == 2  # each object's metadata.name
    line = lines[1]
    assert re.search(rf"{re.escape(str(clusters))}:{line}:\d+: error: metadata.name: duplicate MongoReplicaSet "
                     rf"'team/db', also at {re.escape(str(clusters))}:\d+:\d+", result.stderr), result.stderr


def test_a_status_with_unknown_fields_loads_a_spec_with_them_does_not(
        first: tuple[Path, list[str], dict[str, Any]], tmp_path: Path) -> None:
    out, args, mrs = first
    newer = observed(mrs, 3, aggregated(mrs, 3, 3, 4, updatedMembers=3, storage={"requested": "20Gi"}))
    newer["status"]["members"][0]["revision"] = "db-6f7c9"
    found = instance(explain(args, out, snapshot(Path(args[3]), tmp_path / "newer.yaml", newer)))
    assert found["observed"]["usable"] is True
    foreign = observed(mrs, 3, aggregated(mrs, 3, 3, 4))
    foreign["spec"]["members"][1]["shard"] = "x"
    clusters = snapshot(Path(args[3]), tmp_path / "foreign.yaml", foreign)
    result = explain(args, out, clusters)
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(clusters))}:\d+:\d+: error: spec.members\[1\].shard: unknown field",
                     result.stderr), result.stderr


@pytest.mark.parametrize(("where", "value", "expected"), [
    (("status", "configVersion"), "4", r"status.configVersion: expected an integer, got a string '4'"),
    (("status", "initialized"), "yes", r"status.initialized: expected true or false"),
    (("spec", "members", 0, "votes"), 2, r"spec.members\[0\].votes: .*less than or equal to 1"),
    (("apiVersion",), "fedrender.io/v2", r"apiVersion: .*fedrender.io/v1alpha1"),
])
def test_a_wrong_value_is_refused_at_its_line(first: tuple[Path, list[str], dict[str, Any]], tmp_path: Path,
                                              where: tuple[Any, ...], value: Any, expected: str) -> None:
    out, args, mrs = first
    bad = observed(mrs, 3, aggregated(mrs, 3, 3, 4))
    target = bad
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = value
    clusters = snapshot(Path(args[3]), tmp_path / "bad.yaml", bad)
    result = explain(args, out, clusters)
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(clusters))}:\d+:\d+: error: {expected}", result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_another_kind_in_the_snapshot_names_both_kinds_it_takes(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, CLUSTERS)
    clusters = snapshot(Path(args[3]), tmp_path / "snap.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                 "metadata": {"name": "x"}})
    result = run(["explain", *args[:2], "--clusters", str(clusters)])
    assert result.exit_code == 1
    assert "error: kind: expected a Karmada Cluster (cluster.karmada.io/v1alpha1) or a MongoReplicaSet " \
           "(fedrender.io/v1alpha1), found ConfigMap" in result.stderr


# --- when an observation counts (pure)

MEMBERS = [MemberState(id=i, cluster=c, ordinal=0, host=f"10.0.0.{i}:31000", nodePort=31000, votes=1, priority=1)
           for i, c in enumerate("abc")]
PREVIOUS = InstanceState(pack="mongodb", initCluster="a", placement={"a": 1, "b": 1, "c": 1}, members=MEMBERS,
                         nodePorts={"0": 31000})


def mrs_of(members: list[MemberState], generation: int | None, seen: int | None, config_version: int = 2,
           with_status: bool = True) -> ObservedReplicaSet:
    spec = {"replicaSetName": "db", "statefulSetName": "db", "initCluster": "a", "keyFileSecret": "db-keyfile",
            "users": {"root": {"secretName": "db-root"}},
            "members": [{"_id": m.id, "host": m.host, "cluster": m.cluster, "ordinal": m.ordinal, "votes": m.votes,
                         "priority": m.priority} for m in members]}
    meta: dict[str, Any] = {"name": "db", "namespace": "team"}
    if generation is not None:
        meta["generation"] = generation
    obj: dict[str, Any] = {"apiVersion": "fedrender.io/v1alpha1", "kind": "MongoReplicaSet", "metadata": meta,
                           "spec": spec}
    if with_status:
        obj["status"] = aggregated({"spec": spec}, generation or 0, seen, config_version)
    return ObservedReplicaSet.model_validate(obj)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 50), st.one_of(st.none(), st.integers(0, 50)), st.integers(0, 9))
def test_only_an_observation_of_the_current_generation_is_usable(generation: int, seen: int | None,
                                                                 config_version: int) -> None:
    found = observe.observe("team/db", mrs_of(MEMBERS, generation, seen, config_version), PREVIOUS)
    assert found.usable == (seen == generation)
    if not found.usable:
        assert f"of {generation}: not every cluster has acted" in found.reason
        assert observe.waiting(found, ["members 3, 4 leave the configuration first"]) == [
            f"members 3, 4 leave the configuration first (no current observed state: {found.reason}; "
            f"{observe.HINT})"]
    else:
        assert found.reason == ""
        assert observe.waiting(found, ["anything"]) == []
    # a stale observation still counts for what never becomes false again
    assert found.initialized == (config_version > 0)
    assert observe.initialized(PREVIOUS, found) == (config_version > 0)


def test_an_observation_of_another_roster_is_not_usable() -> None:
    moved = [*MEMBERS[:2], MEMBERS[2].model_copy(update={"host": "10.9.9.9:31000"})]
    found = observe.observe("team/db", mrs_of(moved, 4, 4), PREVIOUS)
    assert not found.usable
    assert found.reason == ("its roster (0 10.0.0.0:31000, 1 10.0.0.1:31000, 2 10.9.9.9:31000) is not the last "
                            "render's (0 10.0.0.0:31000, 1 10.0.0.1:31000, 2 10.0.0.2:31000): the last render is not "
                            "synced to the Karmada control plane yet")
    assert found.initialized  # the same replica set, one roster older: it was initiated all the same


@pytest.mark.parametrize(("observation", "reason"), [
    (mrs_of(MEMBERS, 4, 4, with_status=False), "has no status yet"),
    (mrs_of(MEMBERS, None, 4), "has no metadata.generation"),
    (None, "the snapshot has no MongoReplicaSet team/db"),
])
def test_what_is_not_usable_says_why(observation: ObservedReplicaSet | None, reason: str) -> None:
    found = observe.observe("team/db", observation, PREVIOUS)
    assert not found.usable
    assert reason in found.reason
    assert not observe.observe("team/db", mrs_of(MEMBERS, 4, 4), None).usable  # nothing to compare the roster with


def test_initialized_never_returns_to_false() -> None:
    before = PREVIOUS.model_copy(update={"initialized": True})
    for observation in (None, mrs_of(MEMBERS, 4, 2, config_version=0), mrs_of(MEMBERS, 4, 4, config_version=0)):
        assert observe.initialized(before, observe.observe("team/db", observation, before)) is True
