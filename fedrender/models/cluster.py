"""Karmada ``Cluster`` objects (cluster.karmada.io/v1alpha1), as ``kubectl get clusters -o yaml`` prints them.

The schema follows ``schemas/vendor/karmada/cluster.karmada.io_clusters.DERIVED.yaml``. Only a few fields
matter to scheduling; they are exposed through :class:`ClusterView`, the value rules see as ``cluster``.

Names follow Karmada's ``ValidateClusterName`` (a DNS-1123 label of at most 48 characters); the ``vip`` label,
FedState's convention for a member cluster's external address, must be an IPv4 address or a DNS name (an IPv6
address can't be a label value: give it in the overlay). Quantities stay lenient (:data:`QuantityStr`), as
kubectl may print them as numbers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from fedrender.models import names
from fedrender.models.base import ObjectMeta, ResourceList, Strict, fail_at

API_VERSION = "cluster.karmada.io/v1alpha1"
KIND = "Cluster"


class LocalSecretReference(Strict):
    name: str
    namespace: str


class Taint(Strict):
    key: str
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
    timeAdded: str | None = None


class ResourceModelRange(Strict):
    name: str
    min: Any
    max: Any


class ResourceModel(Strict):
    grade: int
    ranges: list[ResourceModelRange]


class ClusterSpec(Strict):
    apiEndpoint: str | None = None
    id: str | None = None
    impersonatorSecretRef: LocalSecretReference | None = None
    insecureSkipTLSVerification: bool | None = None
    provider: str | None = None
    proxyHeader: dict[str, str] = Field(default_factory=dict)
    proxyURL: str | None = None
    region: str | None = None
    resourceModels: list[ResourceModel] = Field(default_factory=list)
    secretRef: LocalSecretReference | None = None
    syncMode: Literal["Push", "Pull"]
    taints: list[Taint] = Field(default_factory=list)
    zone: str | None = None
    zones: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _zone_or_zones(self) -> ClusterSpec:
        if self.zone and self.zones:
            raise ValueError("zone and zones cannot both be set")
        return self


class Condition(Strict):
    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str
    observedGeneration: int | None = None


class APIResource(Strict):
    kind: str
    name: str


class APIEnablement(Strict):
    groupVersion: str
    resources: list[APIResource] = Field(default_factory=list)


class NodeSummary(Strict):
    readyNum: int | None = None
    totalNum: int | None = None


class AllocatableModeling(Strict):
    grade: int
    count: int


class ResourceSummary(Strict):
    allocatable: ResourceList = Field(default_factory=dict)
    allocated: ResourceList = Field(default_factory=dict)
    allocating: ResourceList = Field(default_factory=dict)
    allocatableModelings: list[AllocatableModeling] = Field(default_factory=list)


class ClusterStatus(Strict):
    apiEnablements: list[APIEnablement] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    kubernetesVersion: str | None = None
    nodeSummary: NodeSummary | None = None
    remedyActions: list[str] = Field(default_factory=list)
    resourceSummary: ResourceSummary | None = None


class Cluster(Strict):
    apiVersion: Literal["cluster.karmada.io/v1alpha1"]
    kind: Literal["Cluster"]
    metadata: ObjectMeta = Field()
    spec: ClusterSpec
    status: ClusterStatus | None = None

    @model_validator(mode="after")
    def _name_and_vip(self) -> Cluster:
        meta, vip = self.metadata, self.metadata.labels.get("vip", "")
        fail_at("Cluster", [(("metadata", "name"), p, meta.name) for p in names.cluster_name(meta.name)]
                + [(("metadata", "labels", "vip"), p, vip) for p in names.vip(vip)])
        return self

    def ready_condition(self) -> Condition | None:
        for condition in self.status.conditions if self.status else []:
            if condition.type == "Ready":
                return condition
        return None
