"""The Karmada API, through the kubernetes client: the snapshot (Clusters and MongoReplicaSets) and the aggregated
status.

This is the only module of fedrender that imports ``kubernetes`` (import-linter enforces it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config

from fedrender.models.diagnostics import FedrenderError


class ApiUnavailable(FedrenderError):
    """The Karmada API could not be reached or refused the request; ``status`` is the HTTP status (0: none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def connect(context: str | None, kubeconfig: Path | None) -> Any:
    try:
        return config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None, context=context)
    except (config.ConfigException, OSError) as exc:
        raise ApiUnavailable(f"cannot load the kubeconfig context {context or '(current)'}: {exc}") from None


def snapshot(api: Any, warn: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """``kubectl get clusters.cluster.karmada.io,mongoreplicasets.fedrender.io -A -o yaml``: one v1 List of the
    Cluster objects (by name), then the MongoReplicaSets (by namespace/name) with the status Karmada aggregated,
    managedFields dropped (kubectl's ``--show-managed-fields=false``, its default).

    When the API server has no ``mongoreplicasets.fedrender.io`` (404: the CRD is not installed yet; 403: the
    credentials may not list it), the List holds the Clusters only and ``warn`` says what render will assume."""
    items = [_trimmed(i) for i in sorted(_list(api, "cluster.karmada.io", "clusters"),
                                         key=lambda i: i["metadata"]["name"])]
    try:
        observed = replica_sets(api, None)
    except ApiUnavailable as exc:
        if exc.status not in (403, 404):
            raise
        warn(f"{exc}: the snapshot holds the Clusters only, so render assumes nothing happened since the last render "
             "(install the platform, or grant list on mongoreplicasets.fedrender.io, to capture them)")
        observed = []
    items += [_trimmed(o) for o in observed]
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def _trimmed(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    out["metadata"] = {k: v for k, v in item["metadata"].items() if k != "managedFields"}
    return out


def _list(api: Any, group: str, plural: str) -> list[dict[str, Any]]:
    try:
        listed = client.CustomObjectsApi(api).list_cluster_custom_object(group, "v1alpha1", plural)
    except (client.ApiException, urllib3.exceptions.HTTPError) as exc:
        raise ApiUnavailable(f"cannot list {plural}.{group}: {_why(exc)}", _status(exc)) from None
    return list(listed.get("items", []))


def replica_sets(api: Any, namespace: str | None) -> list[dict[str, Any]]:
    objects = client.CustomObjectsApi(api)
    try:
        if namespace:
            listed = objects.list_namespaced_custom_object("fedrender.io", "v1alpha1", namespace, "mongoreplicasets")
        else:
            listed = objects.list_cluster_custom_object("fedrender.io", "v1alpha1", "mongoreplicasets")
    except (client.ApiException, urllib3.exceptions.HTTPError) as exc:
        raise ApiUnavailable(f"cannot list mongoreplicasets.fedrender.io: {_why(exc)}", _status(exc)) from None
    return sorted(listed.get("items", []), key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))


def _status(exc: Exception) -> int:
    return int(exc.status or 0) if isinstance(exc, client.ApiException) else 0


def _why(exc: Exception) -> str:
    if isinstance(exc, client.ApiException):
        return f"{exc.status} {exc.reason}"
    return f"the API server is unreachable ({type(exc).__name__})"


def topology(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One replica set like FedState's status: per cluster its members with roles, and the external addresses."""
    spec, status = obj["spec"], obj.get("status") or {}
    by_cluster = {c.get("cluster"): c for c in status.get("clusters") or []}
    result = []
    for cluster in sorted({m["cluster"] for m in spec["members"]}):
        members = [m for m in spec["members"] if m["cluster"] == cluster]
        reported = by_cluster.get(cluster, {})
        roles = {m["host"]: ("PRIMARY" if m["host"] == status.get("primary") else
                             "ARBITER" if m.get("arbiterOnly") else "SECONDARY") for m in members}
        result.append({"cluster": cluster, "phase": reported.get("phase", "Unknown"), "members": len(members),
                       "healthyMembers": reported.get("healthyMembers", 0), "connectAddrWithRole": roles})
    return {"namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
            "phase": status.get("phase", "Unknown"), "primary": status.get("primary", ""),
            "externalAddr": ",".join(m["host"] for m in spec["members"] if not m.get("arbiterOnly")),
            "result": result}
