"""The reconciler's Kubernetes side over HTTP (a local API emulator), and the whole reconciler end to end:
three member clusters, each with its own API and reconciler, one simulated replica set."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from reconciler.kube import Gone, Kube
from reconciler.main import Reconciler, Settings
from tests.kubesim import KubeSim
from tests.mongosim import Simulator


@pytest.fixture
def api() -> Iterator[KubeSim]:
    sim = KubeSim()
    yield sim
    sim.stop()


def kube(sim: KubeSim, cluster: str = "a", namespaces: tuple[str, ...] = ()) -> Kube:
    configuration = client.Configuration()
    configuration.host = sim.host
    return Kube(client.ApiClient(configuration), cluster, namespaces)


def mrs(name: str, members: list[dict[str, Any]], init: str = "a", namespace: str = "team") -> dict[str, Any]:
    return {"apiVersion": "fedrender.io/v1alpha1", "kind": "MongoReplicaSet",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicaSetName": name, "statefulSetName": name, "initCluster": init, "members": members,
                     "keyFileSecret": f"{name}-keyfile",
                     "users": {u: {"secretName": f"{name}-{u.lower()}"} for u in ("root", "clusterAdmin",
                                                                                  "clusterMonitor")}}}


def pod(name: str, instance: str, ready: bool = True) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "team",
                                                            "labels": {"app.kubernetes.io/instance": instance}},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def secret(name: str, user: str, password: str) -> dict[str, Any]:
    encode = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "team"},
            "data": {"username": encode(user), "password": encode(password)}}


def test_list_and_watch_with_reconnects(api: KubeSim) -> None:
    api.put_object(mrs("db", []))
    k = kube(api)
    items, version = k.list()
    assert [o["metadata"]["name"] for o in items] == ["db"]
    api.put_object(mrs("db2", []))
    api.put_object(mrs("db3", []))
    api.close_watch_after = 1  # the server ends the stream after one event; the caller watches again
    first = [o["metadata"]["name"] for _, o in k.watch(version, timeout=2)]
    assert first == ["db2"]
    resumed = [o["metadata"]["name"] for _, o in k.watch(str(int(version) + 1), timeout=2)]
    assert resumed == ["db3"]
    api.oldest = int(version) + 5  # history compacted: the old resourceVersion is Gone, list again
    with pytest.raises(Gone):
        list(k.watch(version, timeout=2))
    assert api.watches == 3


def test_status_goes_through_the_status_subresource(api: KubeSim) -> None:
    obj = mrs("db", [])
    api.put_object(obj)
    kube(api).patch_status(obj, {"phase": "Ready", "primary": "h:1"})
    assert api.patches == [("team", "db", "application/merge-patch+json")]
    assert api.objects[("team", "db")]["status"] == {"phase": "Ready", "primary": "h:1"}
    assert api.objects[("team", "db")]["spec"] == obj["spec"]


def test_pods_secrets_events_and_the_lease(api: KubeSim) -> None:
    members = [{"_id": 0, "host": "h:0", "cluster": "a", "ordinal": 0, "votes": 1, "priority": 2},
               {"_id": 1, "host": "h:1", "cluster": "a", "ordinal": 1, "votes": 1, "priority": 1},
               {"_id": 2, "host": "h:2", "cluster": "b", "ordinal": 0, "votes": 1, "priority": 1}]
    obj = mrs("db", members)
    api.put_object(obj)
    api.pods["team"] = [pod("db-0", "db"), pod("db-1", "db", ready=False), pod("other-0", "other")]
    api.secrets[("team", "db-root")] = secret("db-root", "root", "s3cret")
    k = kube(api)
    assert k.ready_hosts(obj) == frozenset({"h:0"})
    credentials, problems = k.credentials(obj)
    assert credentials["root"].password == "s3cret"
    assert set(credentials) == {"root"}  # the others' Secrets are missing: reported, not fatal
    assert problems == ["Secret team/db-clusteradmin of user clusterAdmin is missing",
                        "Secret team/db-clustermonitor of user clusterMonitor is missing"]
    assert "s3cret" not in repr(credentials)
    api.secrets[("team", "db-clusteradmin")] = {"apiVersion": "v1", "kind": "Secret",
                                                "metadata": {"name": "db-clusteradmin"},
                                                "data": {"password": base64.b64encode(b"pw").decode()}}
    _, problems = k.credentials(obj)
    assert "Secret team/db-clusteradmin of user clusterAdmin has no key username" in problems
    k.event(obj, "Initiate", "initiate db with h:0")
    assert api.events[0]["reason"] == "Initiate"
    assert api.events[0]["involvedObject"]["name"] == "db"
    assert k.lead("fedrender-system", "fedrender-reconciler", "pod-1", 60) is True
    assert k.lead("fedrender-system", "fedrender-reconciler", "pod-1", 60) is True  # renewed
    assert k.lead("fedrender-system", "fedrender-reconciler", "pod-2", 60) is False  # held by pod-1


def test_three_clusters_reconcile_a_replica_set_to_ready() -> None:
    mongo = Simulator("db")
    apis = {c: KubeSim() for c in "abc"}
    try:
        hosts = [mongo.add_host(("root", "root-pw")) for _ in range(3)]
        mongo.rs.lag[hosts[2]] = 7
        members = [{"_id": i, "host": hosts[i], "cluster": c, "ordinal": 0, "votes": 1, "priority": 2 if i == 0 else 1,
                    "tags": {"cluster": c}} for i, c in enumerate("abc")]
        reconcilers = {}
        for c, api in apis.items():
            api.put_object(mrs("db", members))
            api.pods["team"] = [pod("db-0", "db")]
            for user in ("root", "clusterAdmin", "clusterMonitor"):
                api.secrets[("team", f"db-{user.lower()}")] = secret(f"db-{user.lower()}", user, f"{user}-pw")
            reconcilers[c] = Reconciler(Settings(c), kube(api, c))
        phases: dict[str, str] = {}
        for _ in range(12):
            for c, reconciler in reconcilers.items():
                phases[c] = reconciler.reconcile(apis[c].objects[("team", "db")])
            if set(phases.values()) == {"Ready"}:
                break
        assert phases == {"a": "Ready", "b": "Ready", "c": "Ready"}
        assert mongo.rs.violations == []
        status = apis["a"].objects[("team", "db")]["status"]
        assert status["primary"] == hosts[0]
        assert {m["stateStr"] for m in status["members"]} == {"PRIMARY", "SECONDARY"}
        assert {m["host"]: (m["syncSource"], m["lagSeconds"]) for m in status["members"]} == {
            hosts[0]: ("", 0), hosts[1]: (hosts[0], 0), hosts[2]: (hosts[0], 7)}
        assert {c["type"]: c["status"] for c in status["conditions"]} == {
            "Initialized": "True", "UsersReady": "True", "MembersInSync": "True", "MembersLeaving": "False",
            "Ready": "True"}
        reasons = [e["reason"] for e in apis["a"].events]
        assert reasons[:4] == ["Initiate", "SetDefaultWriteConcern", "CreateUser", "CreateUser"]
        everything = json.dumps([list(api.objects.values()) for api in apis.values()], default=str) + json.dumps(
            [api.events for api in apis.values()], default=str)
        assert "-pw" not in everything  # no password in any status or Event
    finally:
        mongo.stop()
        for api in apis.values():
            api.stop()


def test_the_rendered_deployment_runs_this_entry_point() -> None:
    import tomllib

    import yaml

    from tests.conftest import ROOT

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    deployment = yaml.safe_load((ROOT / "rules" / "mongodb" / "platform" / "deployment.yaml").read_text())
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == ["fedrender-reconciler"]
    assert scripts["fedrender-reconciler"] == "reconciler.main:main"
    env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"FEDRENDER_NAMESPACES", "FEDRENDER_RESYNC_SECONDS", "POD_NAME", "POD_NAMESPACE"} <= env


def test_the_loop_reacts_to_spec_changes_and_survives_watch_reconnects(api: KubeSim) -> None:
    import threading
    import time

    members = [{"_id": 0, "host": "127.0.0.1:1", "cluster": "b", "ordinal": 0, "votes": 1, "priority": 1}]
    api.put_object(mrs("db", members, init="b"))
    api.close_watch_after = 1  # every watch ends after one event: the loop must list and watch again
    stopping = threading.Event()
    reconciler = Reconciler(Settings("a", resync_seconds=1), kube(api, "a"), sleep=lambda _: None)
    thread = threading.Thread(target=reconciler.run, args=(stopping.is_set,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "status" not in api.objects[("team", "db")]:
            time.sleep(0.05)
        assert api.objects[("team", "db")]["status"]["phase"] == "Pending"
        changed = mrs("db", members, init="b")
        changed["metadata"]["generation"] = 2
        changed["status"] = api.objects[("team", "db")]["status"]  # a spec update keeps the status
        api.put_object(changed, "MODIFIED")
        while time.monotonic() < deadline and api.objects[("team", "db")]["status"].get("observedGeneration") != 2:
            time.sleep(0.05)
        assert api.objects[("team", "db")]["status"]["observedGeneration"] == 2
        assert api.watches >= 2
        assert api.leases  # it took the Lease before acting
    finally:
        stopping.set()
        thread.join(timeout=5)


def test_one_broken_replica_set_does_not_starve_the_others(api: KubeSim) -> None:
    good = [{"_id": 0, "host": "127.0.0.1:1", "cluster": "b", "ordinal": 0, "votes": 1, "priority": 1}]
    broken = mrs("bad", good, init="b")
    broken["spec"]["members"] = [{"host": "127.0.0.1:1"}]  # no _id: a malformed spec
    api.put_object(broken)
    api.put_object(mrs("good", good, init="b"))
    reconciler = Reconciler(Settings("a"), kube(api, "a"))
    for obj in kube(api, "a").list()[0]:
        reconciler.reconcile_safely(obj)
    assert "status" in api.objects[("team", "good")]
    assert "status" not in api.objects[("team", "bad")]
    assert [e["reason"] for e in api.events] == ["ReconcileFailed"]


def test_a_secret_without_a_username_is_a_condition_not_a_default(api: KubeSim) -> None:
    members = [{"_id": 0, "host": "127.0.0.1:1", "cluster": "b", "ordinal": 0, "votes": 1, "priority": 1}]
    api.put_object(mrs("db", members, init="b"))
    api.secrets[("team", "db-root")] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-root"},
                                        "data": {"password": base64.b64encode(b"pw").decode()}}
    Reconciler(Settings("a"), kube(api, "a")).reconcile(api.objects[("team", "db")])
    users = next(c for c in api.objects[("team", "db")]["status"]["conditions"] if c["type"] == "UsersReady")
    assert (users["status"], users["reason"]) == ("False", "SecretInvalid")
    assert "Secret team/db-root of user root has no key username" in users["message"]
