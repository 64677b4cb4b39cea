"""The Kubernetes adapter: MongoReplicaSets, pods, Secrets, status patches, Events and the leader Lease; for
rolling restarts the local StatefulSets (apps/v1), the pods' revisions, and pod deletion with a uid
precondition (the StatefulSet controller recreates a deleted pod at ``status.updateRevision``:
kubernetes ``pkg/controller/statefulset/stateful_set_control.go``, OnDelete strategy)."""

from __future__ import annotations

import base64
import builtins
import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from reconciler import storage
from reconciler.decide import Member, Pod, Roster, Workload
from reconciler.mongo import Credentials

log = logging.getLogger("fedrender.reconciler.kube")

GROUP, VERSION, PLURAL = "fedrender.io", "v1alpha1", "mongoreplicasets"
TEMPLATE_HASH = "fedrender.io/template-hash"  # the renderer's annotation on each StatefulSet (spec.templateHash)
REVISION_LABEL = "controller-revision-hash"  # apps/v1 StatefulSet pods: the ControllerRevision they run


class Gone(Exception):
    """The watch's resourceVersion expired (HTTP 410): list again."""


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Kube:
    api: client.ApiClient
    cluster: str
    namespaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.objects = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.leases = client.CoordinationV1Api(self.api)

    # --- MongoReplicaSets

    def list(self) -> tuple[list[dict[str, Any]], str]:
        """Every MongoReplicaSet this reconciler looks after, and the list's resourceVersion."""
        if not self.namespaces:
            listed = self.objects.list_cluster_custom_object(GROUP, VERSION, PLURAL)
            return list(listed.get("items", [])), str(listed["metadata"].get("resourceVersion", ""))
        items: list[dict[str, Any]] = []
        version = ""
        for namespace in self.namespaces:
            listed = self.objects.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
            items += listed.get("items", [])
            version = str(listed["metadata"].get("resourceVersion", ""))
        return items, version

    def watch(self, resource_version: str, timeout: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """(type, object) events after ``resource_version``, until ``timeout`` seconds pass; Gone on 410."""
        stream = watch.Watch()
        kwargs: dict[str, Any] = {"resource_version": resource_version, "timeout_seconds": timeout,
                                  "allow_watch_bookmarks": True}
        try:
            if len(self.namespaces) == 1:
                events = stream.stream(self.objects.list_namespaced_custom_object, GROUP, VERSION,
                                       self.namespaces[0], PLURAL, **kwargs)
            else:
                events = stream.stream(self.objects.list_cluster_custom_object, GROUP, VERSION, PLURAL, **kwargs)
            for event in events:
                kind, obj = event["type"], event["object"]
                if kind == "ERROR" and isinstance(obj, dict) and obj.get("code") == 410:
                    raise Gone(str(obj.get("message", "")))
                if kind in ("ADDED", "MODIFIED") and self._mine(obj):
                    yield kind, obj
        except ApiException as exc:
            if exc.status == 410:
                raise Gone(str(exc.reason)) from None
            raise
        finally:
            stream.stop()

    def _mine(self, obj: Mapping[str, Any]) -> bool:
        return not self.namespaces or obj.get("metadata", {}).get("namespace") in self.namespaces

    def patch_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        self.objects.patch_namespaced_custom_object_status(GROUP, VERSION, meta["namespace"], PLURAL, meta["name"],
                                                           {"status": dict(status)})

    # --- pods and Secrets

    def ready_hosts(self, obj: Mapping[str, Any]) -> frozenset[str]:
        """Hosts of this cluster's members whose pod is Ready (pod <statefulSet>-<ordinal>, or -arbiter-0)."""
        spec, namespace = obj["spec"], obj["metadata"]["namespace"]
        selector = f"app.kubernetes.io/instance={spec['statefulSetName']}"
        pods = self.core.list_namespaced_pod(namespace, label_selector=selector)
        ready = {p.metadata.name for p in pods.items
                 if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))}
        hosts = set()
        for m in spec["members"]:
            if m["cluster"] != self.cluster:
                continue
            suffix = "arbiter-0" if m.get("arbiterOnly") else str(m["ordinal"])
            pod = f"{spec['statefulSetName']}-{suffix}"
            if pod in ready:
                hosts.add(m["host"])
        return frozenset(hosts)

    def statefulsets(self, obj: Mapping[str, Any]) -> tuple[Workload, ...]:
        """The instance's local StatefulSets ``<statefulSetName>`` and ``<statefulSetName>-arbiter`` that exist
        here: the template-hash annotation, ``status.updateRevision`` and whether the controller observed the
        current generation (``status.observedGeneration == metadata.generation``)."""
        base, namespace = obj["spec"]["statefulSetName"], obj["metadata"]["namespace"]
        found = []
        for name in (base, f"{base}-arbiter"):
            try:
                sts = self.apps.read_namespaced_stateful_set(name, namespace)
            except ApiException as exc:
                if exc.status == 404:
                    continue
                raise
            annotations = sts.metadata.annotations or {}
            status = sts.status
            found.append(Workload(name, str(annotations.get(TEMPLATE_HASH, "")),
                                  str(getattr(status, "update_revision", None) or ""),
                                  status is not None and status.observed_generation is not None
                                  and status.observed_generation == sts.metadata.generation))
        return tuple(found)

    def pods(self, obj: Mapping[str, Any], workloads: tuple[Workload, ...]) -> dict[str, Pod]:
        """This cluster's members' pods by host: uid, ``controller-revision-hash`` and their StatefulSet's
        ``updateRevision`` (pod ``<statefulSetName>-<ordinal>``, or ``<statefulSetName>-arbiter-0``)."""
        spec, namespace = obj["spec"], obj["metadata"]["namespace"]
        base = spec["statefulSetName"]
        revisions = {w.name: w.update_revision for w in workloads}
        listed = self.core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={base}")
        by_name = {p.metadata.name: p for p in listed.items}
        out: dict[str, Pod] = {}
        for m in spec["members"]:
            if m["cluster"] != self.cluster:
                continue
            arbiter = bool(m.get("arbiterOnly"))
            name = f"{base}-arbiter-0" if arbiter else f"{base}-{m['ordinal']}"
            found = by_name.get(name)
            if found is None or found.metadata.deletion_timestamp is not None:
                continue  # not there, or on its way out: nothing to judge or restart yet
            out[m["host"]] = Pod(name, str(found.metadata.uid or ""),
                                 str((found.metadata.labels or {}).get(REVISION_LABEL, "")),
                                 revisions.get(f"{base}-arbiter" if arbiter else base, ""),
                                 -1 if arbiter else int(m["ordinal"]))
        return out

    def delete_pod(self, obj: Mapping[str, Any], name: str, uid: str) -> None:
        """Delete pod ``name`` only if it is still the one with ``uid`` (a recreated pod is never deleted by a
        stale decision: the API server answers 409 Conflict)."""
        self.core.delete_namespaced_pod(name, obj["metadata"]["namespace"],
                                        body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid)))

    def credentials(self, obj: Mapping[str, Any]) -> tuple[dict[str, Credentials], builtins.list[str]]:
        """The users' credentials from their Secrets (keys ``username`` and ``password``, both required), and
        what is wrong with the Secrets that could not be used (never a value)."""
        namespace = obj["metadata"]["namespace"]
        out: dict[str, Credentials] = {}
        problems: builtins.list[str] = []
        for user, ref in sorted((obj["spec"].get("users") or {}).items()):
            name = ref["secretName"]
            try:
                secret = self.core.read_namespaced_secret(name, namespace)
            except ApiException as exc:
                if exc.status == 404:
                    problems.append(f"Secret {namespace}/{name} of user {user} is missing")
                    continue
                raise
            data = secret.data or {}
            missing = [key for key in ("username", "password") if not data.get(key)]
            if missing:
                problems.append(f"Secret {namespace}/{name} of user {user} has no key {' or '.join(missing)}")
                continue
            try:
                out[user] = Credentials(base64.b64decode(data["username"]).decode(),
                                        base64.b64decode(data["password"]).decode())
            except ValueError:  # binascii.Error and UnicodeDecodeError both are
                problems.append(f"Secret {namespace}/{name} of user {user} is not UTF-8 text")
        for problem in problems:
            log.warning("%s", problem)
        return out, problems

    # --- PersistentVolumeClaims and StorageClasses (storage growth, reconciler/storage.py)

    def observe_storage(self, obj: Mapping[str, Any], mine: Roster) -> storage.Seen:
        """The local data members' claims of every claim template ``spec.storage.claims`` sizes, and the
        StorageClass of each claim that asks for less (``allowVolumeExpansion``); empty without sizes."""
        spec, namespace = obj["spec"], obj["metadata"]["namespace"]
        targets = {str(k): str(v) for k, v in ((spec.get("storage") or {}).get("claims") or {}).items()}
        if not targets:
            return storage.Seen()
        ordinals = {int(m["_id"]): int(m["ordinal"]) for m in spec["members"]}
        claims = []
        for template, name, host in storage.claim_names(mine, ordinals, spec["statefulSetName"], targets):
            try:
                pvc = self.core.read_namespaced_persistent_volume_claim(name, namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                claims.append(storage.Claim(name, template, host, found=False))
                continue
            status = pvc.status
            claims.append(storage.Claim(
                name, template, host, True, bool(status and status.phase == "Bound"),
                str(((pvc.spec.resources and pvc.spec.resources.requests) or {}).get("storage", "")),
                str(((status and status.capacity) or {}).get("storage", "")), pvc.spec.storage_class_name or "",
                frozenset(c.type for c in ((status and status.conditions) or []) if c.status == "True")))
        classes = {name: self.expandable(name) for name in sorted(storage.needs_class(claims, targets))}
        return storage.Seen(targets, tuple(claims), classes)

    def expandable(self, name: str) -> bool | None:
        """Whether StorageClass ``name`` allows volume expansion; None when the claim names no class or the
        class does not exist (the admission plugin PersistentVolumeClaimResize refuses growth then too)."""
        if not name:
            return None
        try:
            found = client.StorageV1Api(self.api).read_storage_class(name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return bool(found.allow_volume_expansion)

    def resize_claim(self, obj: Mapping[str, Any], action: storage.ResizeClaim) -> None:
        """Merge-patch the claim's ``spec.resources.requests.storage`` to the new size (nothing else)."""
        self.core.patch_namespaced_persistent_volume_claim(
            action.claim, obj["metadata"]["namespace"], {"spec": {"resources": {"requests": {"storage": action.size}}}},
            _content_type="application/merge-patch+json")

    # --- Events and the leader Lease

    def event(self, obj: Mapping[str, Any], reason: str, message: str, warning: bool = False) -> None:
        meta = obj["metadata"]
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{meta['name']}.", namespace=meta["namespace"]),
            involved_object=client.V1ObjectReference(api_version=f"{GROUP}/{VERSION}", kind="MongoReplicaSet",
                                                     name=meta["name"], namespace=meta["namespace"],
                                                     uid=meta.get("uid")),
            reason=reason, message=message[:1024], type="Warning" if warning else "Normal",
            source=client.V1EventSource(component="fedrender-reconciler", host=self.cluster),
            first_timestamp=dt.datetime.now(dt.UTC), last_timestamp=dt.datetime.now(dt.UTC), count=1)
        try:
            self.core.create_namespaced_event(meta["namespace"], body)
        except ApiException as exc:  # Events are best effort
            log.info("cannot record event %s: %s", reason, exc.reason)

    def lead(self, namespace: str, name: str, identity: str, duration: int) -> bool:
        """Take or renew the Lease; False while another live holder has it."""
        stamp = dt.datetime.now(dt.UTC)
        spec = client.V1LeaseSpec(holder_identity=identity, lease_duration_seconds=duration, renew_time=stamp)
        try:
            lease = self.leases.read_namespaced_lease(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            spec.acquire_time = stamp
            self.leases.create_namespaced_lease(namespace, client.V1Lease(
                metadata=client.V1ObjectMeta(name=name, namespace=namespace), spec=spec))
            return True
        held = lease.spec.holder_identity
        renewed = lease.spec.renew_time
        expired = renewed is None or (stamp - renewed).total_seconds() > (lease.spec.lease_duration_seconds or 0)
        if held not in (None, "", identity) and not expired:
            return False
        spec.acquire_time = lease.spec.acquire_time if held == identity else stamp
        lease.spec = spec
        try:
            self.leases.replace_namespaced_lease(name, namespace, lease)
        except ApiException as exc:
            if exc.status == 409:  # someone else renewed first
                return False
            raise
        return True


def roster(obj: Mapping[str, Any], cluster: str) -> Roster:
    """The roster this cluster's reconciler acts on (``spec``; ``spec.initialized`` as recorded by fedrender)."""
    spec = obj["spec"]
    members = tuple(Member(int(m["_id"]), m["host"], int(m["votes"]), float(m["priority"]),
                           bool(m.get("arbiterOnly", False)), m["cluster"],
                           tuple(sorted((str(k), str(v)) for k, v in (m.get("tags") or {}).items())),
                           bool(m.get("leaving", False)))
                    for m in spec["members"])
    return Roster(spec["replicaSetName"], members, spec["initCluster"], cluster,
                  tuple(u for u in ("root", "clusterAdmin", "clusterMonitor") if u in (spec.get("users") or {})),
                  bool(spec.get("initialized", False)), str(spec.get("version") or ""),
                  str(spec.get("featureCompatibilityVersion") or ""), str(spec.get("templateHash") or ""),
                  int(spec.get("rolloutMaxLagSeconds", 10)), str(spec.get("statefulSetName") or ""))
