"""The Lua fedrender ships, run under a real Lua 5.1 (lupa): Karmada's interpreter for MongoReplicaSet and
Argo CD's health check, against healthy, progressing, degraded and missing-status fixtures."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from lupa import lua51

from tests.conftest import ROOT
from tests.lua import SCRIPTS, aggregate_status, argocd_health, call, to_lua, to_python


def member(id_: int, state: str, health: int = 1) -> dict[str, Any]:
    return {"_id": id_, "host": f"10.0.0.{id_}:30000", "stateStr": state, "health": health}


READY = {"phase": "Ready", "primary": "10.0.0.0:30000", "observedGeneration": 2, "generation": 2,
         "resourceTemplateGeneration": 5, "members": [member(0, "PRIMARY"), member(1, "SECONDARY")]}
CURRENT = {"observedGeneration": 2, "generation": 2, "resourceTemplateGeneration": 5}
INITIALIZING = {"phase": "Initializing", **CURRENT, "members": [member(2, "STARTUP2", 0)]}
DEGRADED = {"phase": "Degraded", "primary": "", **CURRENT, "members": [member(2, "(not reachable/healthy)", 0)]}


def aggregate(*items: tuple[str, dict[str, Any] | None], generation: int = 5) -> dict[str, Any]:
    desired = {"apiVersion": "fedrender.io/v1alpha1", "kind": "MongoReplicaSet",
               "metadata": {"name": "db", "generation": generation}}
    return aggregate_status(desired, list(items))


def test_aggregation_of_healthy_clusters() -> None:
    status = aggregate(("a", READY), ("b", {**READY, "primary": ""}))["status"]
    assert status["phase"] == "Ready"
    assert status["primary"] == "10.0.0.0:30000"
    assert status["observedGeneration"] == 5
    assert status["clusters"] == [
        {"cluster": "a", "phase": "Ready", "primary": "10.0.0.0:30000", "observedGeneration": 2,
         "resourceTemplateGeneration": 5, "healthyMembers": 2},
        {"cluster": "b", "phase": "Ready", "primary": "", "observedGeneration": 2, "resourceTemplateGeneration": 5,
         "healthyMembers": 2}]


@pytest.mark.parametrize("stale", [
    {"resourceTemplateGeneration": 4},  # the copy in b was propagated from the previous spec
    {"generation": 3},  # b's copy changed; its reconciler has not observed it yet
    {"resourceTemplateGeneration": None},  # no annotation: cannot tell
], ids=["old template", "not observed", "unknown"])
def test_progressing_until_every_cluster_reports_the_current_generation(stale: dict[str, Any]) -> None:
    behind = {k: v for k, v in {**READY, **stale}.items() if v is not None}
    status = aggregate(("a", READY), ("b", behind))["status"]
    assert status["phase"] == "Progressing"
    assert "observedGeneration" not in status
    assert argocd_health(aggregate(("a", READY), ("b", behind)))["status"] == "Progressing"


def test_aggregation_of_progressing_degraded_and_missing_status() -> None:
    assert aggregate(("a", READY), ("b", INITIALIZING))["status"]["phase"] == "Progressing"
    assert aggregate(("a", READY), ("b", DEGRADED))["status"]["phase"] == "Degraded"
    missing = aggregate(("a", None), ("b", READY))["status"]  # a cluster that has not reported yet
    assert missing["phase"] == "Progressing"
    assert missing["clusters"][0] == {"cluster": "a", "phase": "Pending", "primary": "", "observedGeneration": 0,
                                      "resourceTemplateGeneration": 0, "healthyMembers": 0}
    desired = {"metadata": {"name": "db"}}
    assert call(SCRIPTS["statusAggregation"], "AggregateStatus", desired, None) == {"metadata": {"name": "db"},
                                                                                 "status": {}}


@pytest.mark.parametrize(("status", "generation", "healthy"), [
    (READY, 2, True), (READY, 3, False), (INITIALIZING, 2, False), (DEGRADED, 2, False), (None, 1, False)])
def test_health_interpretation(status: dict[str, Any] | None, generation: int, healthy: bool) -> None:
    obj = {"metadata": {"name": "db", "generation": generation}, **({"status": status} if status else {})}
    assert call(SCRIPTS["healthInterpretation"], "InterpretHealth", obj) is healthy


def test_status_reflection_and_retention() -> None:
    member_copy = {"metadata": {"generation": 3, "annotations": {"resourcetemplate.karmada.io/generation": "7"}},
                   "status": {"phase": "Ready", "observedGeneration": 3}}
    assert call(SCRIPTS["statusReflection"], "ReflectStatus", member_copy) == {
        "phase": "Ready", "observedGeneration": 3, "generation": 3, "resourceTemplateGeneration": 7}
    assert call(SCRIPTS["statusReflection"], "ReflectStatus", {"metadata": {"name": "db"}}) == {}  # not nil
    desired = {"metadata": {"name": "db", "annotations": {"argocd.argoproj.io/sync-wave": "0"}}}
    observed = {"metadata": {"annotations": {"reconciler.fedrender.io/config-version": "7", "other": "x"}}}
    kept = call(SCRIPTS["retention"], "Retain", desired, observed)
    assert kept["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "0",
                                               "reconciler.fedrender.io/config-version": "7"}


def test_argocd_health() -> None:
    healthy = aggregate(("a", READY), ("b", READY))
    assert argocd_health(healthy) == {"status": "Healthy", "message": "Primary 10.0.0.0:30000 in 2 clusters"}
    progressing = aggregate(("a", READY), ("b", INITIALIZING))
    assert argocd_health(progressing) == {"status": "Progressing", "message": "Waiting for b (Initializing)"}
    degraded = aggregate(("a", READY), ("b", DEGRADED))
    assert argocd_health(degraded) == {"status": "Degraded", "message": "Degraded in b"}
    assert argocd_health({"metadata": {"name": "db"}})["status"] == "Progressing"
    spec_changed = {**healthy, "metadata": {"name": "db", "generation": 6}}  # every cluster still reports 5
    assert argocd_health(spec_changed) == {"status": "Progressing",
                                           "message": "Waiting for every cluster to report generation 6"}


PDB_HEALTH = yaml.safe_load((ROOT / "gitops" / "argocd-cm.yaml").read_text())["data"][
    "resource.customizations.health.policy_PodDisruptionBudget"]


def pdb_health(obj: dict[str, Any]) -> dict[str, Any]:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals()["obj"] = to_lua(runtime, obj)
    return to_python(runtime.execute(PDB_HEALTH))  # type: ignore[no-any-return]


def karmada_sum(*clusters: tuple[int, int, int]) -> dict[str, Any]:
    """A PodDisruptionBudget's status as Karmada aggregates it: (expected, currentHealthy, desiredHealthy) per
    cluster summed, no conditions (pkg/resourceinterpreter/default/native/aggregatestatus.go)."""
    return {"metadata": {"name": "db"}, "status": {
        "expectedPods": sum(c[0] for c in clusters), "currentHealthy": sum(c[1] for c in clusters),
        "desiredHealthy": sum(c[2] for c in clusters),
        "disruptionsAllowed": sum(max(0, c[1] - c[2]) for c in clusters), "disruptedPods": {}}}


def test_argocd_health_of_a_budget_karmada_aggregates() -> None:
    """Argo CD's built-in check waits for conditions, which Karmada's aggregated status never has."""
    assert pdb_health(karmada_sum((2, 2, 1), (2, 2, 1), (1, 1, 0))) == {
        "status": "Healthy", "message": "5 of 5 pods healthy, 3 disruptions allowed"}
    assert pdb_health(karmada_sum((2, 0, 1), (1, 0, 0))) == {
        "status": "Progressing", "message": "0 of 3 pods healthy, 0 disruptions allowed; waiting for 1 healthy"}
    assert pdb_health({"metadata": {"name": "db"}})["status"] == "Progressing"
    assert pdb_health(karmada_sum())["status"] == "Progressing"


def test_argocd_health_of_a_budget_with_conditions_is_argocds() -> None:
    """resource_customizations/policy/PodDisruptionBudget/health.lua of Argo CD, for budgets elsewhere."""
    def status(condition: str, reason: str) -> dict[str, Any]:
        return {"status": {"conditions": [{"type": "DisruptionAllowed", "status": condition, "reason": reason}]}}
    assert pdb_health(status("True", "SufficientPods"))["status"] == "Healthy"
    assert pdb_health(status("False", "InsufficientPods"))["status"] == "Healthy"
    assert pdb_health(status("False", "SyncFailed")) == {"status": "Degraded",
                                                         "message": "PodDisruptionBudget has SyncFailed"}


# --- what render reads back from the control plane (issue 14 sections 1 and 6)


def cluster_report(version: int, states: list[str], primary: str = "", initialized: bool | None = None,
                   **extra: Any) -> dict[str, Any]:
    """One cluster's reflected status: config ``version``, the config members in ``states`` (member i votes
    when i < 3)."""
    report: dict[str, Any] = {"phase": "Ready", "primary": primary, **CURRENT, "configVersion": version,
                              "members": [{**member(i, s), "votes": 1 if i < 3 else 0, "syncSource": "",
                                           "lagSeconds": 0} for i, s in enumerate(states)], **extra}
    if initialized is not None:
        report["conditions"] = [{"type": "Initialized", "status": "True" if initialized else "False"}]
    return report


def test_aggregation_carries_initialized_config_version_and_members() -> None:
    status = aggregate(("a", cluster_report(3, ["PRIMARY", "SECONDARY"], "10.0.0.0:30000")),
                       ("b", cluster_report(4, ["PRIMARY", "SECONDARY", "SECONDARY"], "10.0.0.0:30000")),
                       ("c", cluster_report(0, [], initialized=False)))["status"]
    assert status["initialized"] is True
    assert status["configVersion"] == 4
    assert status["members"] == [  # as b, with the highest config version, reports them; five fields each
        {"_id": 0, "host": "10.0.0.0:30000", "stateStr": "PRIMARY", "health": 1, "votes": 1},
        {"_id": 1, "host": "10.0.0.1:30000", "stateStr": "SECONDARY", "health": 1, "votes": 1},
        {"_id": 2, "host": "10.0.0.2:30000", "stateStr": "SECONDARY", "health": 1, "votes": 1}]
    fresh = aggregate(("a", cluster_report(0, [], initialized=False)), ("b", None))["status"]
    assert fresh["initialized"] is False
    assert fresh["configVersion"] == 0
    assert "members" not in fresh


def test_initialized_stays_true_in_the_control_plane() -> None:
    desired = {"apiVersion": "fedrender.io/v1alpha1", "kind": "MongoReplicaSet",
               "metadata": {"name": "db", "generation": 5}, "status": {"initialized": True}}
    items = [{"clusterName": "a", "status": cluster_report(0, [], initialized=False)}]  # a's mongod restarted empty
    status = call(SCRIPTS["statusAggregation"], "AggregateStatus", desired, items)["status"]
    assert status["initialized"] is True
    only_condition = aggregate(("a", {**cluster_report(0, []), "conditions": [{"type": "Initialized",
                                                                               "status": "True"}]}))["status"]
    assert only_condition["initialized"] is True


STATES = ["PRIMARY", "SECONDARY", "ARBITER", "STARTUP2", "(not reachable/healthy)"]
REPORTS = st.builds(cluster_report, st.integers(0, 6), st.lists(st.sampled_from(STATES), max_size=5),
                    st.sampled_from(["", "10.0.0.0:30000", "10.0.0.1:30000"]),
                    st.one_of(st.none(), st.booleans()),
                    phase=st.sampled_from(["Ready", "Degraded", "Syncing", "Pending"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(REPORTS, min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_aggregation_does_not_depend_on_the_order_of_the_clusters(reports: list[dict[str, Any]],
                                                                  random: Any) -> None:
    items = [(f"c{i}", report) for i, report in enumerate(reports)]
    shuffled = list(items)
    random.shuffle(shuffled)
    assert aggregate(*shuffled) == aggregate(*items)


# --- rolling updates (issue 14 section 3): members merged with their own cluster's report, updatedMembers summed


def rollout_report(cluster: str, version: int, hosts: list[tuple[str, str]], updated: set[str],
                   **extra: Any) -> dict[str, Any]:
    """``cluster``'s reflected status: the config members ``hosts`` ((host, cluster) pairs, member i is _id i), of
    which it reports its own with revision, updated, version and storage, and updatedMembers for its own."""
    members = []
    for i, (host, owner) in enumerate(hosts):
        entry: dict[str, Any] = {"_id": i, "host": host, "stateStr": "PRIMARY" if i == 0 else "SECONDARY",
                                 "health": 1, "votes": 1}
        if owner == cluster:
            entry.update(cluster=cluster, revision=f"db-{'new' if host in updated else 'old'}",
                         updated=host in updated, version="8.0.4" if host in updated else "7.0.14", storage="10Gi")
        members.append(entry)
    return {"phase": "Ready", "primary": hosts[0][0] if hosts else "", **CURRENT, "configVersion": version,
            "members": members, "updateRevision": "db-new",
            "updatedMembers": sum(1 for h, owner in hosts if owner == cluster and h in updated), **extra}


HOSTS = [(f"10.0.0.{i}:3000{i}", "abc"[i % 3]) for i in range(5)]


def test_aggregation_merges_members_and_sums_updated() -> None:
    updated = {HOSTS[1][0], HOSTS[2][0], HOSTS[4][0]}
    status = aggregate(
        ("a", rollout_report("a", 4, HOSTS, updated, featureCompatibilityVersion="7.0",
                             storage={"requested": "20Gi", "resized": 1, "pending": 1})),
        ("b", rollout_report("b", 3, HOSTS, updated, featureCompatibilityVersion="6.0",
                             storage={"requested": "20Gi", "resized": 2, "pending": 0})),
        ("c", rollout_report("c", 4, HOSTS, updated, fcvTargetVersion="")))["status"]
    assert status["updatedMembers"] == 3
    assert status["featureCompatibilityVersion"] == "7.0"  # a's, with the higher config version
    assert status["fcvTargetVersion"] == ""
    assert status["storage"] == {"requested": "20Gi", "resized": 3, "pending": 1}
    assert status["members"][0] == {"_id": 0, "host": HOSTS[0][0], "stateStr": "PRIMARY", "health": 1, "votes": 1,
                                    "cluster": "a", "revision": "db-old", "updated": False, "version": "7.0.14",
                                    "storage": "10Gi"}
    assert [(m["cluster"], m["updated"]) for m in status["members"]] == [
        ("a", False), ("b", True), ("c", True), ("a", False), ("b", True)]  # the list is a's, member 4 is b's
    nothing = aggregate(("a", READY))["status"]
    assert nothing["updatedMembers"] == 0
    assert "storage" not in nothing


ROLLOUT_REPORTS = st.builds(
    lambda cluster_count, version, updated, pending, fcv: [
        rollout_report(c, version + i % 2, HOSTS, updated, storage={"requested": "20Gi", "resized": 1,
                                                                     "pending": pending},
                       **({"featureCompatibilityVersion": fcv} if i == 0 else {}))
        for i, c in enumerate("abc"[:cluster_count])],
    st.integers(1, 3), st.integers(1, 5), st.sets(st.sampled_from([h for h, _ in HOSTS])), st.integers(0, 2),
    st.sampled_from(["", "7.0", "8.0"]))


@settings(max_examples=60, deadline=None)
@given(ROLLOUT_REPORTS, st.randoms(use_true_random=False))
def test_the_rollout_aggregation_does_not_depend_on_the_order_of_the_clusters(reports: list[dict[str, Any]],
                                                                              random: Any) -> None:
    items = [("abc"[i], report) for i, report in enumerate(reports)]
    shuffled = list(items)
    random.shuffle(shuffled)
    status = aggregate(*items)["status"]
    assert aggregate(*shuffled)["status"] == status
    assert status["updatedMembers"] == sum(r["updatedMembers"] for r in reports)
    assert status["storage"]["pending"] == sum(r["storage"]["pending"] for r in reports)


def rolled(spec_members: list[dict[str, Any]], updated: set[str], configured: list[str],
           fresh: set[str]) -> dict[str, Any]:
    """The control plane's MongoReplicaSet (generation 5) after aggregating one report per cluster a, b, c: each
    cluster reports its own members of ``spec_members``; ``configured`` hosts are in the configuration;
    clusters not in ``fresh`` still report the previous generation (their StatefulSets lack the new hash)."""
    hosts = [(m["host"], m["cluster"]) for m in spec_members if m["host"] in configured]
    items = []
    for cluster in "abc":
        counted = {m["host"] for m in spec_members if not m.get("leaving") and m["host"] in updated}
        report = rollout_report(cluster, 7, hosts, counted)
        report["updatedMembers"] = sum(1 for m in spec_members if m["cluster"] == cluster and m["host"] in counted)
        if cluster not in fresh:
            report["resourceTemplateGeneration"] = 4
        items.append((cluster, report))
    obj = aggregate(*items)
    obj["spec"] = {"members": spec_members}
    return obj


MEMBER_STATES = st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()), min_size=1,
                         max_size=7)
"""Per member: (runs the current template, leaving, still in the configuration, arbiter)."""


@settings(max_examples=100, deadline=None)
@given(MEMBER_STATES, st.sets(st.sampled_from("abc")))
def test_argocd_progressing_until_every_member_runs_the_current_template(states: list[tuple[bool, ...]],
                                                                         fresh: set[str]) -> None:
    """Healthy (Argo CD) exactly when every member that stays (the arbiter included) runs the current pod
    template, no leaving member is still configured and every cluster reported the current generation; and
    Karmada's InterpretHealth agrees."""
    spec_members = [{"_id": i, "host": f"10.0.0.{i}:30000", "cluster": "abc"[i % 3], "arbiterOnly": arbiter,
                     **({"leaving": True} if leaving else {})} for i, (_, leaving, _, arbiter) in enumerate(states)]
    updated = {m["host"] for m, (current, *_) in zip(spec_members, states, strict=True) if current}
    configured = [m["host"] for m, (_, leaving, kept, _) in zip(spec_members, states, strict=True)
                  if kept or not leaving]
    obj = rolled(spec_members, updated, configured, fresh)
    health = argocd_health(obj)
    staying = [m for m in spec_members if not m.get("leaving")]
    done = (all(m["host"] in updated for m in staying)
            and not any(m.get("leaving") and m["host"] in configured for m in spec_members)
            and fresh == set("abc"))
    assert (health["status"] == "Healthy") is done, health
    assert call(SCRIPTS["healthInterpretation"], "InterpretHealth", obj) is done
    count = sum(1 for m in staying if m["host"] in updated)
    if fresh == set("abc") and count < len(staying):
        assert health == {"status": "Progressing",
                          "message": f"rolling out: {count} of {len(staying)} members run the current pod template"}


def test_leaving_members_keep_it_progressing() -> None:
    spec_members = [{"_id": i, "host": f"10.0.0.{i}:30000", "cluster": "abc"[i % 3],
                     **({"leaving": True} if i >= 3 else {})} for i in range(5)]
    every = {m["host"] for m in spec_members}
    obj = rolled(spec_members, every, sorted(every), set("abc"))
    assert argocd_health(obj) == {"status": "Progressing",
                                  "message": "waiting for members 3, 4 to leave the replica set configuration"}
    assert call(SCRIPTS["healthInterpretation"], "InterpretHealth", obj) is False
    one = rolled(spec_members, every, sorted(every)[:4], set("abc"))
    assert argocd_health(one)["message"] == "waiting for member 3 to leave the replica set configuration"
    gone = rolled(spec_members, every, sorted(every)[:3], set("abc"))
    assert argocd_health(gone)["status"] == "Healthy"
    assert call(SCRIPTS["healthInterpretation"], "InterpretHealth", gone) is True


def test_storage_being_resized_keeps_it_progressing() -> None:
    spec_members = [{"_id": i, "host": f"10.0.0.{i}:30000", "cluster": "abc"[i % 3]} for i in range(3)]
    obj = rolled(spec_members, {m["host"] for m in spec_members}, [m["host"] for m in spec_members], set("abc"))
    obj["status"]["storage"] = {"requested": "20Gi", "resized": 1, "pending": 2}
    assert argocd_health(obj) == {"status": "Progressing", "message": "resizing storage: 2 of 3 volume claims pending"}
    assert call(SCRIPTS["healthInterpretation"], "InterpretHealth", obj) is False
    obj["status"]["storage"] = {"requested": "20Gi", "resized": 3, "pending": 0}
    assert argocd_health(obj)["status"] == "Healthy"
