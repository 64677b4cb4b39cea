"""Rolling updates, render and health side (issue 14 section 3): an image change renders a new templateHash, and
while the member clusters take the new StatefulSets and restart their members, the status each cluster reports
(as the reconciler's contract says: observedGeneration only once its StatefulSets carry the roster's hash,
updatedMembers counting the local members that run the local updateRevision), aggregated by Karmada's Lua and
judged by Argo CD's, never says Healthy before every member runs the new template."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.cli import main
from fedrender.composer.templatehash import ANNOTATION
from fedrender.day2.rollout import rollout
from fedrender.models.observed import ObservedReplicaSet
from fedrender.models.state import PATH as STATE_FILE
from tests.day2world import World
from tests.lua import aggregate_status, argocd_health, interpret_health
from tests.observed import observed, snapshot
from tests.topology import cluster_doc

CLUSTERS = [cluster_doc("a", "eu"), cluster_doc("b", "us"), cluster_doc("c", "ap")]
NAMES = ("a", "b", "c")


def converged(tmp: Path, members: int, spec: dict[str, Any]) -> World:
    tmp.mkdir(parents=True, exist_ok=True)
    world = World(tmp, CLUSTERS, spec=spec)
    world.render(members, observe="none")
    world.reconcile()
    world.render(members)  # the observed state: initialised, every member in the configuration
    world.reconcile()
    return world


@dataclass
class Member:
    """One member cluster of the rollout: which generation of the control plane's MongoReplicaSet its copy was
    propagated from (Karmada's resourcetemplate.karmada.io/generation), the hash its StatefulSets carry, and the
    revision each local member's pod runs (a pod restarted before its StatefulSet arrived keeps the old one)."""

    name: str
    mrs_from: int
    local_generation: int
    sts_hash: str
    observed: int
    pods: dict[str, str] = field(default_factory=dict)  # host -> "old" | "new"
    down: set[str] = field(default_factory=set)

    def update_revision(self, current_hash: str) -> str:
        return "new" if self.sts_hash == current_hash else "old"


@dataclass
class Rollout:
    """The member clusters after an image change rendered ``new_hash`` into generation ``generation`` of the
    control plane's MongoReplicaSet ``mrs``; ``config`` is the replica set configuration (host -> _id)."""

    mrs: dict[str, Any]
    generation: int
    old_hash: str
    new_hash: str
    primary: str
    clusters: dict[str, Member]

    def roster(self) -> list[dict[str, Any]]:
        return list(self.mrs["spec"]["members"])

    def step(self, event: tuple[str, str]) -> None:
        what, target = event
        if what == "mrs":  # Karmada propagates the new spec to the cluster
            member = self.clusters[target]
            member.mrs_from, member.local_generation = self.generation, member.local_generation + 1
        elif what == "sts":  # Karmada propagates the new StatefulSets to the cluster
            self.clusters[target].sts_hash = self.new_hash
        else:
            owner = next(c for c in self.clusters.values() if target in c.pods)
            if what == "down":
                owner.down.add(target)
            else:  # the pod is recreated at its StatefulSet's updateRevision
                owner.down.discard(target)
                owner.pods[target] = owner.update_revision(self.new_hash)
        for member in self.clusters.values():  # the reconcilers
            copy_hash = self.new_hash if member.mrs_from == self.generation else self.old_hash
            if member.sts_hash == copy_hash:  # its StatefulSets carry its roster's hash
                member.observed = member.local_generation

    def report(self, member: Member) -> dict[str, Any]:
        """``member``'s reflected status (ReflectStatus adds generation and resourceTemplateGeneration)."""
        revision = member.update_revision(self.new_hash)
        members = []
        for m in self.roster():
            entry: dict[str, Any] = {"_id": m["_id"], "host": m["host"], "votes": m["votes"],
                                     "stateStr": "PRIMARY" if m["host"] == self.primary else
                                     "ARBITER" if m.get("arbiterOnly") else "SECONDARY",
                                     "health": 0 if any(m["host"] in c.down for c in self.clusters.values()) else 1}
            if m["host"] in member.pods:
                entry.update(cluster=member.name, revision=member.pods[m["host"]],
                             updated=member.pods[m["host"]] == revision and entry["health"] == 1)
            members.append(entry)
        updated = sum(1 for e in members if e.get("updated") and not self.leaving(e["host"]))
        return {"phase": "Reconfiguring" if member.down else "Ready", "primary": self.primary, "configVersion": 9,
                "initialized": True, "members": members, "observedGeneration": member.observed,
                "generation": member.local_generation, "resourceTemplateGeneration": member.mrs_from,
                "updateRevision": revision, "updatedMembers": updated}

    def leaving(self, host: str) -> bool:
        return any(m["host"] == host and m.get("leaving") for m in self.roster())

    def health(self) -> tuple[dict[str, Any], bool]:
        desired = {**self.mrs, "metadata": {**self.mrs["metadata"], "generation": self.generation}}
        obj = aggregate_status(desired, [(c.name, self.report(c)) for c in self.clusters.values()])
        return argocd_health(obj), interpret_health(obj)

    def every_member_runs_it(self) -> bool:
        return (all(c.pods[m["host"]] == "new" and m["host"] not in c.down
                    for m in self.roster() if not m.get("leaving")
                    for c in self.clusters.values() if m["host"] in c.pods)
                and all(c.mrs_from == self.generation and c.sts_hash == self.new_hash
                        for c in self.clusters.values()))


def image_change(tmp: Path, members: int, spec: dict[str, Any]) -> Rollout:
    """A converged ``members``-member team/db, then its image changed in the spec and rendered again."""
    world = converged(tmp, members, {**spec, "imageSetting": {"image": "mongo:8.0"}})
    assert world.mrs is not None
    before, generation = world.mrs["spec"]["templateHash"], world.generation
    world.spec = {**world.spec, "imageSetting": {"image": "mongo:8.0.4"}}
    result = world.render(members)
    assert world.mrs["spec"]["templateHash"] != before
    assert world.generation == generation + 1  # the new hash is a spec change of the MongoReplicaSet
    for path, data in result.files.items():
        if "/statefulset-" in path:
            assert f"{ANNOTATION}: {world.mrs['spec']['templateHash']}" in data.decode()
    clusters = {name: Member(name, generation, 3, before, 3) for name in NAMES}
    for m in world.mrs["spec"]["members"]:
        clusters[m["cluster"]].pods[m["host"]] = "old"
    return Rollout(world.mrs, world.generation, before, world.mrs["spec"]["templateHash"], world.primary, clusters)


def events(rollout: Rollout) -> list[tuple[str, str]]:
    hosts = sorted(h for c in rollout.clusters.values() for h in c.pods)
    return ([("mrs", c) for c in NAMES] + [("sts", c) for c in NAMES] + [("down", h) for h in hosts]
            + [("restart", h) for h in hosts])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.booleans(), st.data())
def test_an_image_change_never_leaves_argocd_healthy_before_every_member_runs_it(tmp_path: Path, arbiter: bool,
                                                                                data: st.DataObject) -> None:
    """Karmada delivers the new MongoReplicaSet and StatefulSets to each cluster in any order, members go down and
    restart in any order (before or after their StatefulSet arrived): at every step, Healthy (Argo CD, and
    Karmada's InterpretHealth alike) means every member runs the new template in every cluster, and once that
    is true, it is Healthy."""
    rollout = image_change(tmp_path, 4 if arbiter else 5, {"config": {"arbiter": True}} if arbiter else {})
    assert any(m.get("arbiterOnly") for m in rollout.roster()) is arbiter
    health, karmada = rollout.health()
    assert health["status"] == "Progressing"
    assert not karmada
    every = events(rollout)  # each event once in any order, then some again (a member restarted twice)
    for event in data.draw(st.permutations(every)) + data.draw(st.lists(st.sampled_from(every), max_size=10)):
        rollout.step(event)
        health, karmada = rollout.health()
        assert (health["status"] == "Healthy") is karmada
        if karmada:
            assert rollout.every_member_runs_it(), (event, health)
    for event in events(rollout):  # finish: everything delivered, every member restarted once more
        rollout.step(event)
    assert rollout.every_member_runs_it()
    assert rollout.health() == ({"status": "Healthy", "message": f"Primary {rollout.primary} in 3 clusters"}, True)


def test_a_member_restarted_before_its_statefulset_arrived_still_counts_as_outdated(tmp_path: Path) -> None:
    rollout = image_change(tmp_path, 5, {})
    for event in [("mrs", c) for c in NAMES] + [("restart", h) for c in rollout.clusters.values() for h in c.pods]:
        rollout.step(event)  # every pod restarted, but onto the old StatefulSets
    health, karmada = rollout.health()
    assert health == {"status": "Progressing", "message": "Waiting for every cluster to report generation "
                      f"{rollout.generation}"}
    assert not karmada
    for name in NAMES:
        rollout.step(("sts", name))
    health, _ = rollout.health()
    assert health == {"status": "Progressing", "message": "rolling out: 0 of 5 members run the current pod template"}
    first = sorted(rollout.clusters["a"].pods)[0]
    rollout.step(("restart", first))
    assert rollout.health()[0]["message"] == "rolling out: 1 of 5 members run the current pod template"


def test_a_render_during_the_rollout_keeps_the_hash(tmp_path: Path) -> None:
    """A render while members restart (the observed state current) renders the same templateHash."""
    world = converged(tmp_path, 5, {"imageSetting": {"image": "mongo:8.0"}})
    world.spec = {"imageSetting": {"image": "mongo:8.0.4"}}
    world.render(5)
    assert world.mrs is not None
    value, generation = world.mrs["spec"]["templateHash"], world.generation
    world.render(5)
    assert world.mrs["spec"]["templateHash"] == value
    assert world.generation == generation


def test_explain_says_when_a_render_starts_a_rollout_and_how_far_the_observed_one_came(tmp_path: Path) -> None:
    world = converged(tmp_path, 5, {"imageSetting": {"image": "mongo:8.0"}})
    assert world.mrs is not None
    before = world.mrs["spec"]["templateHash"]
    world.spec = {"imageSetting": {"image": "mongo:8.0.4"}}
    started = world.render(5)  # the snapshot holds the previous roster, with the old hash
    new = world.mrs["spec"]["templateHash"]
    assert started.instances[0].rollout.startswith(f"the pod templates change (templateHash {before} -> {new}; ")
    assert started.instances[0].explain()["rollout"] == started.instances[0].rollout
    out = tmp_path / "out"
    (out / STATE_FILE).parent.mkdir(parents=True)
    (out / STATE_FILE).write_bytes(started.files[STATE_FILE])
    for updated, said in [(2, f"rolling out: 2 of 5 members run the current pod template (observed generation "
                                f"{world.generation}, templateHash {new})"), (5, None), (None, None)]:
        status = {**world.status(world.generation), **({"updatedMembers": updated} if updated is not None else {})}
        clusters = snapshot(CLUSTERS, tmp_path / f"snapshot-{updated}.yaml",
                            observed(world.mrs, world.generation, status))
        text = CliRunner().invoke(main, ["explain", "--specs", str(tmp_path / "specs.yaml"), "--clusters",
                                         str(clusters), "--out", str(out)])
        assert text.exit_code == 0, text.output
        rollout = [line.strip() for line in text.output.splitlines() if line.strip().startswith("rollout:")]
        assert rollout == ([f"rollout: {said}"] if said else [])
        as_json = CliRunner().invoke(main, ["explain", "--specs", str(tmp_path / "specs.yaml"), "--clusters",
                                            str(clusters), "--out", str(out), "-o", "json"])
        instance = json.loads(as_json.stdout)["instances"][0]
        assert instance.get("rollout") == said


def observed_roster(template_hash: str, updated: int | None, leaving: int = 0) -> ObservedReplicaSet:
    members = [{"_id": i, "host": f"10.0.0.{i}:30000", "cluster": "a", "ordinal": i, "votes": 0 if i < leaving else 1,
                "priority": 0 if i < leaving else 1, **({"leaving": True} if i < leaving else {})} for i in range(5)]
    status: dict[str, Any] = {"observedGeneration": 4, **({"updatedMembers": updated} if updated is not None else {})}
    return ObservedReplicaSet.model_validate({
        "apiVersion": "fedrender.io/v1alpha1", "kind": "MongoReplicaSet",
        "metadata": {"name": "db", "namespace": "team", "generation": 4},
        "spec": {"replicaSetName": "db", "statefulSetName": "db", "initCluster": "a", "keyFileSecret": "db-keyfile",
                 "members": members, "users": {"root": {"secretName": "db-root"}}, "templateHash": template_hash},
        "status": status})


def test_explain_says_nothing_of_a_roster_rendered_before_the_hash_or_of_a_finished_rollout() -> None:
    assert rollout(None, "0123456789abcdef") == ""
    assert rollout(observed_roster("", 0), "0123456789abcdef") == ""  # an older fedrender's roster: no hash yet
    assert rollout(observed_roster("0123456789abcdef", 5), "0123456789abcdef") == ""
    assert rollout(observed_roster("0123456789abcdef", None), "0123456789abcdef") == ""  # no reconciler said
    assert rollout(observed_roster("0123456789abcdef", 3, leaving=2), "0123456789abcdef") == ""  # 3 stay
    assert rollout(observed_roster("0123456789abcdef", 2, leaving=2), "0123456789abcdef").startswith(
        "rolling out: 2 of 3 members run the current pod template")
    assert rollout(observed_roster("fedcba9876543210", 5), "0123456789abcdef").startswith(
        "the pod templates change (templateHash fedcba9876543210 -> 0123456789abcdef;")
