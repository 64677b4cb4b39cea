"""Storage growth over the wire (issue 14 §5): the reconciler grows each local member's PersistentVolumeClaim
through the real kubernetes client against the API emulator, one claim at a time, reports progress in status,
and never patches a claim whose StorageClass does not allow expansion. The emulator refuses what the API server
refuses (core validation ``ValidatePersistentVolumeClaimUpdate``; admission plugin PersistentVolumeClaimResize)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from reconciler import storage
from reconciler.decide import Member, Roster
from reconciler.main import Reconciler, Settings
from tests.kubesim import KubeSim
from tests.mongosim import Simulator
from tests.test_reconciler_kube import kube, mrs, pod, secret


@pytest.fixture
def api() -> Iterator[KubeSim]:
    sim = KubeSim()
    yield sim
    sim.stop()


@pytest.fixture
def mongo() -> Iterator[Simulator]:
    sim = Simulator("db")
    yield sim
    sim.stop()


def _instance(api: KubeSim, mongo: Simulator, size: str, expansion: bool | None) -> Reconciler:
    """team/db: three members in cluster a (ordinals 0-2), claims data-db-<i> of 10Gi in class "standard"."""
    hosts = [mongo.add_host(("root", "root-pw")) for _ in range(3)]
    members = [{"_id": i, "host": hosts[i], "cluster": "a", "ordinal": i, "votes": 1, "priority": 1}
               for i in range(3)]
    obj = mrs("db", members)
    obj["spec"]["storage"] = {"claims": {"data": size}}
    api.put_object(obj)
    api.pods["team"] = [pod(f"db-{i}", "db") for i in range(3)]
    for user in ("root", "clusterAdmin", "clusterMonitor"):
        api.secrets[("team", f"db-{user.lower()}")] = secret(f"db-{user.lower()}", user, f"{user}-pw")
    for i in range(3):
        api.put_claim("team", f"data-db-{i}", "10Gi")
    if expansion is not None:
        api.storage_classes["standard"] = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                           "metadata": {"name": "standard"}, "provisioner": "csi.example.com",
                                           "allowVolumeExpansion": expansion}
    return Reconciler(Settings("a"), kube(api, "a"))


def _grow(api: KubeSim, size: str) -> None:
    obj = api.objects[("team", "db")]
    obj["spec"]["storage"]["claims"]["data"] = size
    obj["metadata"]["generation"] += 1
    api.put_object(obj, "MODIFIED")


def _status(api: KubeSim) -> dict[str, Any]:
    return dict(api.objects[("team", "db")]["status"])


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_pvcs_grow_one_per_pass_and_status_reports_progress(api: KubeSim, mongo: Simulator) -> None:
    reconciler = _instance(api, mongo, "10Gi", expansion=True)
    for _ in range(12):
        if reconciler.reconcile(api.objects[("team", "db")]) == "Ready":
            break
    status = _status(api)
    assert status["phase"] == "Ready"
    assert status["storage"] == {"requested": "10Gi", "resized": 3, "pending": 0}
    assert _condition(status, "StorageResized")["status"] == "True"
    assert api.claim_patches == []
    _grow(api, "20Gi")
    seen: list[tuple[str, int, int]] = []
    for _ in range(30):
        phase = reconciler.reconcile(api.objects[("team", "db")])
        status = _status(api)
        seen.append((phase, status["storage"]["resized"], status["storage"]["pending"]))
        growing = [k for k, c in api.claims.items() if c["spec"]["resources"]["requests"]["storage"] == "20Gi"
                   and c["status"]["capacity"]["storage"] != "20Gi"]
        assert len(growing) <= 1  # one claim at a time
        if phase == "Ready":
            break
    assert seen[-1] == ("Ready", 3, 0)
    assert {("Progressing", 0, 3), ("Progressing", 1, 2), ("Progressing", 2, 1)} <= set(seen)
    assert [p[3] for p in api.claim_patches] == [{"spec": {"resources": {"requests": {"storage": "20Gi"}}}}] * 3
    assert [p[1] for p in api.claim_patches] == ["data-db-0", "data-db-1", "data-db-2"]
    assert {p[2] for p in api.claim_patches} == {"application/merge-patch+json"}
    assert {m["storage"] for m in status["members"]} == {"20Gi"}
    assert _condition(status, "StorageResized")["reason"] == "Resized"
    assert [e["reason"] for e in api.events].count("ResizeClaim") == 3


@pytest.mark.parametrize("expansion", [False, None])  # a class that refuses, and a class that does not exist
def test_a_class_without_expansion_is_reported_never_patched(api: KubeSim, mongo: Simulator,
                                                             expansion: bool | None) -> None:
    reconciler = _instance(api, mongo, "20Gi", expansion=expansion)
    phases = [reconciler.reconcile(api.objects[("team", "db")]) for _ in range(12)]
    status = _status(api)
    assert phases[-3:] == ["Degraded"] * 3
    assert api.claim_patches == []
    resized = _condition(status, "StorageResized")
    assert (resized["status"], resized["reason"]) == ("False", "ExpansionNotAllowed")
    assert "StorageClass standard does not allow volume expansion" in resized["message"]
    assert "data-db-0, data-db-1, data-db-2 cannot grow to 20Gi" in resized["message"]
    assert status["storage"] == {"requested": "20Gi", "resized": 0, "pending": 3}
    assert _condition(status, "Ready")["reason"] == "ExpansionNotAllowed"


def test_leaving_members_arbiters_and_other_clusters_are_not_grown() -> None:
    roster = Roster("db", (Member(0, "h0", cluster="a"), Member(1, "h1", cluster="a", leaving=True),
                           Member(2, "h2", cluster="b"), Member(3, "h3", cluster="a", arbiter_only=True)), "a", "a")
    names = storage.claim_names(roster, {0: 0, 1: 1, 2: 0, 3: 0}, "db", {"data": "20Gi"})
    assert names == [("data", "data-db-0", "h0")]


def test_a_claim_not_yet_created_or_bound_waits() -> None:
    seen = storage.Seen({"data": "20Gi"}, (storage.Claim("data-db-0", "data", "h0", found=False),
                                           storage.Claim("data-db-1", "data", "h1", bound=False, requested="10Gi"),
                                           storage.Claim("data-db-2", "data", "h2", requested="20Gi",
                                                         capacity="20Gi")), {})
    report = storage.report(seen)
    assert report is not None
    assert (report.resized, report.pending, report.blocked, report.patch) == (1, 2, (), ())
    assert isinstance(storage.next_action(seen), storage.ResizeClaim) is False


def test_a_smaller_size_never_shrinks_a_claim() -> None:
    seen = storage.Seen({"data": "5Gi"}, (storage.Claim("data-db-0", "data", "h0", requested="10Gi",
                                                        capacity="10Gi", storage_class="standard"),),
                        {"standard": True})
    assert storage.needs_class(seen.claims, seen.targets) == set()
    assert not isinstance(storage.next_action(seen), storage.ResizeClaim)
    report = storage.report(seen)
    assert report is not None
    assert (report.resized, report.pending) == (1, 0)


# --- the emulator is as strict as the API server


def _core(api: KubeSim) -> client.CoreV1Api:
    configuration = client.Configuration()
    configuration.host = api.host
    return client.CoreV1Api(client.ApiClient(configuration))


def _patch(api: KubeSim, name: str, body: dict[str, Any]) -> Any:
    return _core(api).patch_namespaced_persistent_volume_claim(name, "team", body,
                                                               _content_type="application/merge-patch+json")


def _refusal(api: KubeSim, name: str, body: dict[str, Any]) -> ApiException:
    with pytest.raises(ApiException) as info:
        _patch(api, name, body)
    return info.value


def _expandable(api: KubeSim, allow: bool) -> None:
    api.storage_classes["standard"] = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                       "metadata": {"name": "standard"}, "provisioner": "csi.example.com",
                                       "allowVolumeExpansion": allow}


def test_the_simulator_refuses_a_change_of_a_bound_claim_other_than_its_requests(api: KubeSim) -> None:
    api.put_claim("team", "data-db-0", "10Gi")
    _expandable(api, True)
    for body in ({"spec": {"storageClassName": "fast"}}, {"spec": {"accessModes": ["ReadWriteMany"]}},
                 {"spec": {"resources": {"limits": {"storage": "30Gi"}}}}):
        refused = _refusal(api, "data-db-0", body)
        assert refused.status == 422
        assert "spec is immutable after creation except resources.requests and volumeAttributesClassName for " \
               "bound claims" in str(refused.body)
    assert api.claims[("team", "data-db-0")]["spec"]["storageClassName"] == "standard"


def test_the_simulator_refuses_a_claim_shrink(api: KubeSim) -> None:
    api.put_claim("team", "data-db-0", "10Gi")
    _expandable(api, True)
    refused = _refusal(api, "data-db-0", {"spec": {"resources": {"requests": {"storage": "9Gi"}}}})
    assert refused.status == 422
    assert "spec.resources.requests.storage: Forbidden: field can not be less than previous value" in str(refused.body)
    _patch(api, "data-db-0", {"spec": {"resources": {"requests": {"storage": "10240Mi"}}}})  # the same size


def test_the_simulator_refuses_growth_where_the_class_does_not_allow_expansion(api: KubeSim) -> None:
    api.put_claim("team", "data-db-0", "10Gi")
    for allow in (False, None):
        api.storage_classes.clear()
        if allow is not None:
            _expandable(api, allow)
        refused = _refusal(api, "data-db-0", {"spec": {"resources": {"requests": {"storage": "20Gi"}}}})
        assert refused.status == 403
        assert ("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must "
                "support resize") in str(refused.body)
    assert api.claims[("team", "data-db-0")]["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_the_simulator_refuses_growth_of_an_unbound_claim(api: KubeSim) -> None:
    api.put_claim("team", "data-db-0", "10Gi", phase="Pending")
    _expandable(api, True)
    refused = _refusal(api, "data-db-0", {"spec": {"resources": {"requests": {"storage": "20Gi"}}}})
    assert refused.status == 403
    assert "Only bound persistent volume claims can be expanded" in str(refused.body)


def test_the_simulator_grows_capacity_only_after_the_resize_conditions(api: KubeSim) -> None:
    api.put_claim("team", "data-db-0", "10Gi")
    _expandable(api, True)
    _patch(api, "data-db-0", {"spec": {"resources": {"requests": {"storage": "20Gi"}}}})
    core = _core(api)
    steps = []
    for _ in range(4):
        claim = core.read_namespaced_persistent_volume_claim("data-db-0", "team")
        steps.append((claim.status.capacity["storage"], [c.type for c in claim.status.conditions or []]))
    assert steps == [("10Gi", ["Resizing"]), ("10Gi", ["FileSystemResizePending"]), ("20Gi", []), ("20Gi", [])]
    storage_api = client.StorageV1Api(core.api_client)
    assert storage_api.read_storage_class("standard").allow_volume_expansion is True
    with pytest.raises(ApiException) as info:
        storage_api.read_storage_class("missing")
    assert info.value.status == 404
