"""A small Kubernetes API emulator over HTTP, for the reconciler's real kubernetes-client code.

Serves MongoReplicaSets (list, watch with resourceVersion, status subresource merge patches), pods,
Secrets, Events, Leases, PersistentVolumeClaims (get, merge patch) and StorageClasses (get); for rolling
restarts, GET of apps/v1 StatefulSets and DELETE of pods with a uid precondition, as the API server does it: a
precondition that does not match the pod's uid is 409 Conflict ("Precondition failed: UID in precondition: ...,
UID in object meta: ...", staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go), a missing pod 404. A deleted
pod is recreated at once by its StatefulSet's controller with a new uid at the StatefulSet's
``status.updateRevision`` (the ``controller-revision-hash`` label; pkg/controller/statefulset), and
``on_pod_recreated`` (a harness hook) restarts the simulated mongod. A watch streams JSON lines;
``close_watch_after`` ends streams early to test
reconnects, and a resourceVersion older than ``oldest`` gets HTTP 410.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from fedrender.models.quantity import parse_quantity

MRS = re.compile(r"^/apis/fedrender\.io/v1alpha1/(?:namespaces/(?P<ns>[^/]+)/)?mongoreplicasets"
                 r"(?:/(?P<name>[^/]+)(?P<status>/status)?)?$")
CORE = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<kind>pods|secrets|events)(?:/(?P<name>[^/]+))?$")
PVC = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/persistentvolumeclaims/(?P<name>[^/]+)$")
STORAGE_CLASS = re.compile(r"^/apis/storage\.k8s\.io/v1/storageclasses/(?P<name>[^/]+)$")
BOUND_SPEC = ("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound "
              "claims")
"""core validation ``ValidatePersistentVolumeClaimUpdate`` (pkg/apis/core/validation/validation.go)."""
NO_RESIZE = ("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must "
             "support resize")
"""admission plugin PersistentVolumeClaimResize (plugin/pkg/admission/storage/persistentvolume/resize)."""
STS = re.compile(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/statefulsets/(?P<name>[^/]+)$")
LEASE = re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>[^/]+)/leases(?:/(?P<name>[^/]+))?$")


class KubeSim:
    def __init__(self) -> None:
        self.version = 1
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[str, list[dict[str, Any]]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.clusters: list[dict[str, Any]] = []
        self.history: list[tuple[int, str, dict[str, Any]]] = []
        self.patches: list[tuple[str, str, str]] = []
        self.watches = 0
        self.oldest = 0
        self.close_watch_after: int | None = None
        self.claims: dict[tuple[str, str], dict[str, Any]] = {}
        self.storage_classes: dict[str, dict[str, Any]] = {}
        self.resize_reads = 3
        """Reads of a growing claim before its capacity follows: ``Resizing`` first, then
        ``FileSystemResizePending``, then the new capacity (the external resizer, then the kubelet)."""
        self.claim_reads: dict[tuple[str, str], int] = {}
        self.claim_patches: list[tuple[str, str, str, Any]] = []
        self.statefulsets: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: list[str] = []  # names of the pods deleted, in order
        self.on_pod_recreated: Callable[[str, dict[str, Any]], None] | None = None
        """Called (namespace, new pod) after a deleted pod is recreated: the harness restarts its mongod."""
        self.uids = itertools.count(1)
        self.mrs_refusal: int | None = None
        """An HTTP status for every MongoReplicaSet request: 404 as when the CRD is not installed, 403 as when
        RBAC refuses it."""
        self.lock = threading.Condition()
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                sim.get(self)

            def do_POST(self) -> None:
                sim.post(self)

            def do_PUT(self) -> None:
                sim.put(self)

            def do_PATCH(self) -> None:
                sim.patch(self)

            def do_DELETE(self) -> None:
                sim.delete(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- state changes (tests call these too)

    def put_object(self, obj: dict[str, Any], event: str = "ADDED") -> None:
        with self.lock:
            self.version += 1
            meta = obj.setdefault("metadata", {})
            meta["resourceVersion"] = str(self.version)
            meta.setdefault("generation", 1)
            meta.setdefault("uid", f"uid-{meta['name']}")
            self.objects[(meta["namespace"], meta["name"])] = obj
            self.history.append((self.version, event, json.loads(json.dumps(obj))))
            self.lock.notify_all()

    # --- HTTP

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def status(self, handler: BaseHTTPRequestHandler, code: int, reason: str) -> None:
        self.reply(handler, code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                                   "reason": reason, "message": reason})

    def body(self, handler: BaseHTTPRequestHandler) -> Any:
        length = int(handler.headers.get("Content-Length", "0"))
        return json.loads(handler.rfile.read(length) or b"{}")

    def get(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/apis/cluster.karmada.io/v1alpha1/clusters":
            self.reply(h, 200, {"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "ClusterList",
                                "metadata": {"resourceVersion": str(self.version)}, "items": self.clusters})
        elif MRS.match(url.path) and self.mrs_refusal is not None:
            self.status(h, self.mrs_refusal, {403: "Forbidden", 404: "NotFound"}.get(self.mrs_refusal, "Error"))
        elif m := MRS.match(url.path):
            if query.get("watch") in ("true", "1"):
                self.watch(h, m.group("ns"), int(query.get("resourceVersion") or 0),
                           float(query.get("timeoutSeconds") or 5))
                return
            with self.lock:
                items = [o for (ns, _), o in sorted(self.objects.items()) if m.group("ns") in (None, ns)]
                version = self.version
            self.reply(h, 200, {"apiVersion": "fedrender.io/v1alpha1", "kind": "MongoReplicaSetList",
                                "metadata": {"resourceVersion": str(version)}, "items": items})
        elif (m := CORE.match(url.path)) and m.group("kind") == "pods":
            selector = query.get("labelSelector", "")
            key, _, value = selector.partition("=")
            items = [p for p in self.pods.get(m.group("ns"), []) if p["metadata"]["labels"].get(key) == value]
            self.reply(h, 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
        elif (m := CORE.match(url.path)) and m.group("kind") == "secrets":
            secret = self.secrets.get((m.group("ns"), m.group("name") or ""))
            if secret is None:
                self.status(h, 404, "NotFound")
            else:
                self.reply(h, 200, secret)
        elif m := PVC.match(url.path):
            claim = self.read_claim((m.group("ns"), m.group("name")))
            if claim is None:
                self.status(h, 404, "NotFound")
            else:
                self.reply(h, 200, claim)
        elif m := STORAGE_CLASS.match(url.path):
            found = self.storage_classes.get(m.group("name"))
            if found is None:
                self.status(h, 404, "NotFound")
            else:
                self.reply(h, 200, found)
        elif m := STS.match(url.path):
            sts = self.statefulsets.get((m.group("ns"), m.group("name")))
            if sts is None:
                self.status(h, 404, "NotFound")
            else:
                self.reply(h, 200, sts)
        elif m := LEASE.match(url.path):
            lease = self.leases.get((m.group("ns"), m.group("name") or ""))
            if lease is None:
                self.status(h, 404, "NotFound")
            else:
                self.reply(h, 200, lease)
        else:
            self.status(h, 404, f"NotFound {url.path}")

    def watch(self, h: BaseHTTPRequestHandler, namespace: str | None, since: int, timeout: float) -> None:
        self.watches += 1
        if since and since < self.oldest:
            self.status(h, 410, "Expired")
            return
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        sent, position = 0, since
        deadline = threading.Event()
        threading.Timer(timeout, deadline.set).start()
        while not deadline.is_set():
            with self.lock:
                pending = [e for e in self.history if e[0] > position
                           and namespace in (None, e[2]["metadata"]["namespace"])]
                if not pending:
                    self.lock.wait(0.05)
                    continue
            for version, kind, obj in pending:
                line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
                h.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                h.wfile.flush()
                position, sent = version, sent + 1
                if self.close_watch_after is not None and sent >= self.close_watch_after:
                    deadline.set()
                    break
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def put_claim(self, namespace: str, name: str, size: str, storage_class: str = "standard",
                  phase: str = "Bound") -> dict[str, Any]:
        """A claim as a StatefulSet's controller creates it from a claim template, bound to a volume of ``size``."""
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "1"},
                 "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                          "volumeMode": "Filesystem", "volumeName": f"pvc-{name}",
                          "resources": {"requests": {"storage": size}}},
                 "status": {"phase": phase, **({"capacity": {"storage": size}} if phase == "Bound" else {})}}
        self.claims[(namespace, name)] = claim
        return claim

    def read_claim(self, key: tuple[str, str]) -> dict[str, Any] | None:
        """The claim; a growing one moves on with each read: Resizing, FileSystemResizePending, then capacity."""
        claim = self.claims.get(key)
        if claim is None:
            return None
        asked = claim["spec"]["resources"]["requests"]["storage"]
        status = claim["status"]
        if status.get("phase") == "Bound" and parse_quantity(status["capacity"]["storage"]) < parse_quantity(asked):
            reads = self.claim_reads[key] = self.claim_reads.get(key, 0) + 1
            if reads >= self.resize_reads:
                status["capacity"]["storage"] = asked
                status.pop("conditions", None)
                self.claim_reads.pop(key)
            else:
                kind = "Resizing" if reads == 1 else "FileSystemResizePending"
                status["conditions"] = [{"type": kind, "status": "True"}]
        return json.loads(json.dumps(claim))

    def patch_claim(self, h: BaseHTTPRequestHandler, key: tuple[str, str]) -> None:
        """A merge patch of a claim, refused as the API server refuses it: core validation first (422), then the
        admission plugin PersistentVolumeClaimResize (403)."""
        old = self.claims.get(key)
        if old is None:
            self.status(h, 404, "NotFound")
            return
        patch = self.body(h)
        self.claim_patches.append((*key, h.headers.get("Content-Type", ""), patch))
        new = _merge(json.loads(json.dumps(old)), patch)
        subject = f'PersistentVolumeClaim "{key[1]}" is invalid'

        def requests_cleared(spec: dict[str, Any]) -> dict[str, Any]:
            out = json.loads(json.dumps(spec))
            out.get("resources", {}).pop("requests", None)
            out.pop("volumeAttributesClassName", None)
            return out

        if old["status"].get("phase") == "Bound" and requests_cleared(new["spec"]) != requests_cleared(old["spec"]):
            self.refuse(h, 422, "Invalid", f"{subject}: spec: Forbidden: {BOUND_SPEC}")
            return
        before = parse_quantity(old["spec"]["resources"]["requests"]["storage"])
        after = parse_quantity(new["spec"]["resources"]["requests"]["storage"])
        if after < before:
            self.refuse(h, 422, "Invalid", f"{subject}: spec.resources.requests.storage: Forbidden: field can not be "
                                           "less than previous value")
            return
        if after > before:
            forbidden = f'persistentvolumeclaims "{key[1]}" is forbidden: '
            if old["status"].get("phase") != "Bound":
                self.refuse(h, 403, "Forbidden", forbidden + "Only bound persistent volume claims can be expanded")
                return
            found = self.storage_classes.get(old["spec"].get("storageClassName") or "")
            if found is None or found.get("allowVolumeExpansion") is not True:
                self.refuse(h, 403, "Forbidden", forbidden + NO_RESIZE)
                return
        new["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
        self.claims[key] = new
        self.reply(h, 200, new)

    def refuse(self, h: BaseHTTPRequestHandler, code: int, reason: str, message: str) -> None:
        self.reply(h, code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                             "reason": reason, "message": message})

    def patch(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        if claim := PVC.match(url.path):
            self.patch_claim(h, (claim.group("ns"), claim.group("name")))
            return
        m = MRS.match(url.path)
        if not m or not m.group("status"):
            self.status(h, 405, "MethodNotAllowed")
            return
        key = (m.group("ns"), m.group("name"))
        if key not in self.objects:
            self.status(h, 404, "NotFound")
            return
        patch = self.body(h)
        self.patches.append((m.group("ns"), m.group("name"), h.headers.get("Content-Type", "")))
        obj = json.loads(json.dumps(self.objects[key]))
        obj["status"] = patch.get("status", {})  # the status subresource only ever changes status
        self.put_object(obj, "MODIFIED")
        self.reply(h, 200, obj)

    def post(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        body = self.body(h)
        if (m := CORE.match(url.path)) and m.group("kind") == "events":
            self.events.append(body)
            self.reply(h, 201, body)
        elif m := LEASE.match(url.path):
            key = (m.group("ns"), body["metadata"]["name"])
            if key in self.leases:
                self.status(h, 409, "AlreadyExists")
                return
            body["metadata"]["resourceVersion"] = "1"
            self.leases[key] = body
            self.reply(h, 201, body)
        else:
            self.status(h, 404, "NotFound")

    def put(self, h: BaseHTTPRequestHandler) -> None:
        m = LEASE.match(urlparse(h.path).path)
        body = self.body(h)
        key = (m.group("ns"), m.group("name") or "") if m else ("", "")
        current = self.leases.get(key)
        if current is None:
            self.status(h, 404, "NotFound")
        elif body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            self.status(h, 409, "Conflict")
        else:
            body["metadata"]["resourceVersion"] = str(int(current["metadata"]["resourceVersion"]) + 1)
            self.leases[key] = body
            self.reply(h, 200, body)

    def delete(self, h: BaseHTTPRequestHandler) -> None:
        """DELETE a pod, honouring ``preconditions.uid``; its StatefulSet recreates it at ``updateRevision``."""
        m = CORE.match(urlparse(h.path).path)
        if not m or m.group("kind") != "pods" or not m.group("name"):
            self.status(h, 405, "MethodNotAllowed")
            return
        namespace, name = m.group("ns"), m.group("name")
        wanted = (self.body(h).get("preconditions") or {}).get("uid")
        with self.lock:
            pods = self.pods.get(namespace, [])
            found = next((p for p in pods if p["metadata"]["name"] == name), None)
            if found is None:
                self.status(h, 404, "NotFound")
                return
            uid = found["metadata"].get("uid", "")
            if wanted is not None and wanted != uid:
                self.reply(h, 409, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 409,
                                    "reason": "Conflict", "message": f"Operation cannot be fulfilled on pods "
                                    f"\"{name}\": Precondition failed: UID in precondition: {wanted}, UID in "
                                    f"object meta: {uid}"})
                return
            self.deleted.append(name)
            pods.remove(found)
            recreated = json.loads(json.dumps(found))
            recreated["metadata"]["uid"] = f"{name}-{next(self.uids)}"
            owner = self.owner(namespace, name)
            if owner is not None:
                revision = owner.get("status", {}).get("updateRevision", "")
                recreated["metadata"].setdefault("labels", {})["controller-revision-hash"] = revision
            pods.append(recreated)
        if self.on_pod_recreated is not None:  # before the reply: the test sees the restart once DELETE returns
            self.on_pod_recreated(namespace, recreated)
        self.reply(h, 200, found)

    def owner(self, namespace: str, pod: str) -> dict[str, Any] | None:
        """The StatefulSet a pod ``<sts>-<ordinal>`` belongs to (the longest matching name)."""
        names = [n for (ns, n) in self.statefulsets if ns == namespace and pod.rsplit("-", 1)[0] == n]
        return self.statefulsets[(namespace, names[0])] if names else None

def _merge(target: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7386): ``null`` removes a key, mappings merge, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out
