"""Rolling restarts over the wire (issue 14 §3): whole reconcilers in three member clusters, each with its own
Kubernetes API emulator (StatefulSets, pods deleted with a uid precondition and recreated at the
StatefulSet's updateRevision) and one simulated replica set that records every unsafe restart, on a
simulated clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.decide import ClaimRestart, RecordMembers, next_action
from reconciler.main import Reconciler, Settings
from reconciler.mongo import MongoAdapter, Temporary
from tests.kubesim import KubeSim
from tests.mongosim import Simulator
from tests.test_reconciler_kube import kube, mrs, secret
from tests.test_reconciler_status import PASSWORDS, Clock, World, stopping

KEY = ("team", "db")
NEW_VERSION = "7.0.15"


@dataclass
class RollingWorld(World):
    """The status tests' World, with StatefulSets and the pods' hosts."""

    pods: dict[tuple[str, str], str] = field(default_factory=dict)  # (cluster, pod name) -> host
    initial_primary: str = ""

    def obj(self, cluster: str) -> dict[str, Any]:
        return self.apis[cluster].objects[KEY]

    def status(self, cluster: str) -> dict[str, Any]:
        return dict(self.obj(cluster).get("status") or {})

    def run(self, until: float = 600.0, done: Callable[[], bool] | None = None) -> float:
        """Each cluster's reconciler when it is due, until ``done()`` (default: every cluster Ready, every pod
        updated and no restart slot held) or ``until`` simulated seconds have passed; returns the time."""
        finished = done or self.finished
        due = dict.fromkeys(self.reconcilers, self.clock.now)
        while self.clock.now < until:
            cluster = min(due, key=lambda c: (due[c], c))
            self.clock.now = max(self.clock.now, due[cluster])
            due[cluster] = self.clock.now + self.reconcilers[cluster].reconcile_safely(self.obj(cluster))
            if finished():
                return self.clock.now
        return self.clock.now

    def finished(self) -> bool:
        ready = all(self.status(c).get("phase") == "Ready" for c in self.apis)
        updated = all(p["metadata"]["labels"]["controller-revision-hash"] == self.revision(c, p["metadata"]["name"])
                      for c, api in self.apis.items() for p in api.pods["team"])
        return ready and updated and "restart" not in self.mongo.rs.rollout

    def revision(self, cluster: str, pod: str) -> str:
        owner = self.apis[cluster].owner("team", pod)
        assert owner is not None
        return str(owner["status"]["updateRevision"])

    def new_template(self, template_hash: str = "h2") -> None:
        """A render changed the pod template: Karmada delivers the MongoReplicaSet with the new spec.templateHash
        and the StatefulSets with the new annotation; each controller observes them with a new updateRevision."""
        for c, api in self.apis.items():
            for sts in api.statefulsets.values():
                meta = sts["metadata"]
                meta["annotations"]["fedrender.io/template-hash"] = template_hash
                meta["generation"] += 1
                sts["status"].update(observedGeneration=meta["generation"],
                                     updateRevision=f"{meta['name']}-{c}-{template_hash}")
            obj = json.loads(json.dumps(api.objects[KEY]))
            obj["spec"]["templateHash"] = template_hash
            obj["metadata"]["generation"] += 1
            api.put_object(obj, "MODIFIED")


def statefulset(name: str, cluster: str, template_hash: str, replicas: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/instance": "db"}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": "team", "generation": 1,
                         "annotations": {"fedrender.io/template-hash": template_hash}},
            "spec": {"replicas": replicas, "serviceName": "db", "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}}, "updateStrategy": {"type": "OnDelete"}},
            "status": {"replicas": replicas, "observedGeneration": 1,
                       "updateRevision": f"{name}-{cluster}-{template_hash}"}}


def member_pod(name: str, uid: str, revision: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "team", "uid": uid,
                         "labels": {"app.kubernetes.io/instance": "db", "controller-revision-hash": revision}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def adapter(cluster: str, clock: Clock) -> MongoAdapter:
    """A reconciler's MongoDB adapter; a short timeout, since a member under restart hangs up."""
    return MongoAdapter("db", {}, cluster, timeout_ms=300, attempts=2, sleep=clock.sleep)


def make_rollout(size: int, arbiter: bool, stuck_seconds: float) -> RollingWorld:
    """``size`` data members round-robin over a, b, c (over a, b with an arbiter, which goes to c), converged on
    template hash h1."""
    mongo = Simulator("db")
    clock = Clock()
    mongo.rs.clock = lambda: clock.now
    mongo.rs.initial_sync_seconds = 1  # a restarted member is down 1 s, then STARTUP2 for 1 s
    mongo.rs.restart_seconds = 1
    homes = "ab" if arbiter else "abc"
    hosts = [mongo.add_host(("root", PASSWORDS["root"])) for _ in range(size)]
    members: list[dict[str, Any]] = [
        {"_id": i, "host": h, "cluster": homes[i % len(homes)], "ordinal": i // len(homes), "votes": 1,
         "priority": 2 if i == 0 else 1, "tags": {"cluster": homes[i % len(homes)]}} for i, h in enumerate(hosts)]
    if arbiter:
        hosts.append(mongo.add_host(None, arbiter=True))
        members.append({"_id": size, "host": hosts[-1], "cluster": "c", "ordinal": 0, "votes": 1, "priority": 0,
                        "arbiterOnly": True, "tags": {"cluster": "c"}})
    apis = {c: KubeSim() for c in "abc"}
    pods: dict[tuple[str, str], str] = {}
    reconcilers = {}
    for c, api in apis.items():
        spec = mrs("db", members)
        spec["spec"]["templateHash"] = "h1"
        api.put_object(spec)
        api.pods["team"] = []
        for m in members:
            if m["cluster"] != c:
                continue
            kind = "db-arbiter" if m.get("arbiterOnly") else "db"
            name = f"{kind}-{m['ordinal']}"
            if ("team", kind) not in api.statefulsets:
                api.statefulsets[("team", kind)] = statefulset(kind, c, "h1", sum(
                    o["cluster"] == c and bool(o.get("arbiterOnly")) == bool(m.get("arbiterOnly")) for o in members))
            api.pods["team"].append(member_pod(name, f"{c}-{name}-0", f"{kind}-{c}-h1"))
            pods[(c, name)] = m["host"]
        for user, password in PASSWORDS.items():
            api.secrets[("team", f"db-{user.lower()}")] = secret(f"db-{user.lower()}", user, password)
        reconcilers[c] = Reconciler(Settings(c, stuck_seconds=stuck_seconds), kube(api, c), sleep=clock.sleep,
                                    clock=lambda: clock.now)
        reconcilers[c].adapters["team/db"] = adapter(c, clock)
    world = RollingWorld(mongo, apis, reconcilers, clock, hosts, pods)
    for c, api in apis.items():
        api.on_pod_recreated = lambda _ns, pod, c=c: mongo.restart(pods[(c, pod["metadata"]["name"])], NEW_VERSION)
    world.run(until=600)
    assert world.finished(), {c: world.status(c).get("phase") for c in apis}
    assert mongo.rs.restarts == []
    world.initial_primary = mongo.rs.primary
    return world


def rolling(size: int = 5, arbiter: bool = False, stuck_seconds: float = 300,
            ) -> AbstractContextManager[RollingWorld]:
    return stopping(make_rollout(size, arbiter, stuck_seconds))


@pytest.fixture(scope="module", params=[(5, False), (4, True)],
                ids=["5 members over 3 clusters", "4 data members and an arbiter"])
def rolled(request: pytest.FixtureRequest) -> Iterator[RollingWorld]:
    """One rolling restart of a new pod template, run to the end (shared by the tests that read it)."""
    size, arbiter = request.param
    with rolling(size, arbiter) as world:
        world.new_template()
        world.run(until=3600)
        yield world


def test_rolling_restart_keeps_at_most_one_member_down(rolled: RollingWorld) -> None:
    world = rolled
    assert world.finished(), {c: world.status(c).get("conditions") for c in world.apis}
    assert world.mongo.rs.violations == []  # two down at once, a lagging or unhealthy member, the primary
    assert sorted(world.mongo.rs.restarts) == sorted(world.hosts)  # every member once
    for c in world.apis:
        status = world.status(c)
        local = [m for m in status["members"] if m.get("cluster") == c]
        assert local
        assert all(m["updated"] and m["version"] == NEW_VERSION for m in local), local
        assert status["updatedMembers"] == len(local)
        assert status["observedGeneration"] == 2
        updated = next(x for x in status["conditions"] if x["type"] == "MembersUpdated")
        assert (updated["status"], updated["message"]) == (
            "True", f"{len(world.hosts)} of {len(world.hosts)} members run the current pod template")
    history = [s for api in world.apis.values() for _, _, o in api.history if (s := o.get("status"))]
    assert "Degraded" not in [s["phase"] for s in history]  # the member under restart is neither lost nor stuck
    messages = [c["message"] for s in history for c in s["conditions"] if c["type"] == "MembersUpdated"]
    assert any("; restarting " in m for m in messages)
    reasons = {c["reason"] for s in history for c in s["conditions"] if c["type"] == "Ready"}
    assert "RollingUpdate" in reasons


def test_the_primary_restarts_last_after_a_step_down(rolled: RollingWorld) -> None:
    world = rolled
    primary = world.initial_primary
    assert world.finished()
    assert world.mongo.rs.restarts[-1] == primary
    assert world.mongo.rs.step_downs == [primary]
    assert world.mongo.rs.violations == []
    for cluster in "abc":  # within a cluster, the highest ordinal first (the primary aside)
        names = [n for (c, n), h in world.pods.items() if c == cluster and h != primary]
        order = [n for host in world.mongo.rs.restarts for (c, n), h in world.pods.items()
                 if h == host and c == cluster and h != primary]
        assert order == sorted(names, key=lambda n: (n.startswith("db-arbiter"), -int(n.rsplit("-", 1)[1])))


def test_no_restart_while_a_member_is_behind() -> None:
    with rolling() as world:
        behind = next(h for h in world.hosts if h != world.initial_primary)
        world.mongo.rs.lag[behind] = 30
        world.new_template()
        world.run(until=world.clock.now + 60, done=lambda: False)
        assert world.mongo.rs.restarts == []
        assert "restart" not in world.mongo.rs.rollout
        ready = {c: next(x for x in world.status(c)["conditions"] if x["type"] == "Ready") for c in world.apis}
        assert any(f"while {behind} is 30 s behind the primary (at most 10)" in r["message"]
                   for r in ready.values()), ready
        assert {r["reason"] for r in ready.values()} == {"RollingUpdate"}
        world.mongo.rs.lag[behind] = 0  # it caught up: the rollout goes on
        world.run(until=world.clock.now + 3600)
        assert world.finished()
        assert world.mongo.rs.violations == []


def test_two_clusters_racing_for_the_slot_restart_one_member() -> None:
    with rolling() as world:
        world.new_template()
        seen = {}
        for c in "ab":
            users, _ = world.reconcilers[c].kube.credentials(world.obj(c))
            seen[c] = world.reconcilers[c].observe("team/db", world.obj(c), users)
            first = next_action(*seen[c])
            assert isinstance(first, RecordMembers)  # each cluster records its members' revisions first
            world.reconcilers[c].adapters["team/db"].act(*seen[c], first)
        for c in "ab":  # both observe before either acts: both see a free slot
            users, _ = world.reconcilers[c].kube.credentials(world.obj(c))
            seen[c] = world.reconcilers[c].observe("team/db", world.obj(c), users)
        actions = {c: next_action(*seen[c]) for c in seen}
        assert all(isinstance(a, ClaimRestart) for a in actions.values()), actions
        outcomes = {}
        for c, action in actions.items():
            try:
                world.reconcilers[c].adapters["team/db"].act(*seen[c], action)
                outcomes[c] = "claimed"
            except Temporary as exc:
                outcomes[c] = exc.reason
        assert sorted(outcomes.values()) == ["RestartSlotHeld", "claimed"]
        holder = next(c for c, o in outcomes.items() if o == "claimed")
        assert world.mongo.rs.rollout["restart"]["cluster"] == holder
        world.run(until=3600)
        assert world.finished()
        assert world.mongo.rs.violations == []
        assert sorted(world.mongo.rs.restarts) == sorted(world.hosts)


def test_a_reconciler_restarted_mid_rollout_resumes_from_the_claim() -> None:
    with rolling() as world:
        world.new_template()
        holder = "b"  # its reconciler takes the slot, then dies before it deletes the pod
        users, _ = world.reconcilers[holder].kube.credentials(world.obj(holder))
        for _ in range(5):
            seen = world.reconcilers[holder].observe("team/db", world.obj(holder), users)
            action = next_action(*seen)
            world.reconcilers[holder].adapters["team/db"].act(*seen, action)
            if isinstance(action, ClaimRestart):
                break
        claim = dict(world.mongo.rs.rollout["restart"])
        assert claim["cluster"] == holder
        assert world.mongo.rs.restarts == []
        old = world.reconcilers[holder]
        world.reconcilers[holder] = Reconciler(old.settings, old.kube, sleep=world.clock.sleep,
                                               clock=lambda: world.clock.now)
        world.reconcilers[holder].adapters["team/db"] = adapter(holder, world.clock)
        world.run(until=world.clock.now + 3600)
        assert world.finished()
        assert world.mongo.rs.restarts[0] == claim["host"]  # it went on with the member it had claimed
        assert world.mongo.rs.violations == []


def test_a_stuck_restart_is_degraded_and_blocks_the_rest() -> None:
    with rolling(stuck_seconds=30) as world:
        world.mongo.rs.stuck = set(world.hosts)  # whichever member restarts first never comes back
        world.new_template()
        world.run(until=world.clock.now + 20, done=lambda: False)
        phases = {c: world.status(c)["phase"] for c in world.apis}
        assert set(phases.values()) == {"Reconfiguring"}, phases  # not Degraded before --stuck-seconds
        world.run(until=world.clock.now + 40, done=lambda: False)
        assert len(world.mongo.rs.restarts) == 1
        host = world.mongo.rs.restarts[0]
        assert world.mongo.rs.rollout["restart"]["host"] == host  # never released while the member is down
        for c in world.apis:
            status = world.status(c)
            ready = next(x for x in status["conditions"] if x["type"] == "Ready")
            assert (status["phase"], ready["reason"]) == ("Degraded", "RestartStuck"), (c, status)
            assert f"the restart of {host} is stuck" in ready["message"]
            updated = next(x for x in status["conditions"] if x["type"] == "MembersUpdated")
            assert updated["status"] == "False"
            assert f"restarting {host}" in updated["message"]
        assert world.mongo.rs.violations == []
