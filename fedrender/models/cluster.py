"""Karmada ``Cluster`` objects (cluster.karmada.io/v1alpha1), as ``kubectl get clusters -o yaml`` prints them.

The schema follows ``schemas/vendor/karmada/cluster.karmada.io_clusters.DERIVED.yaml``. Only a few fields
matter to scheduling; they are exposed through :class:`ClusterView`, the value rules see as ``cluster``.

Names follow Karmada's ``ValidateClusterName`` (a DNS-1123 label of at most 48 characters); the ``vip`` label,
FedState's convention for a member cluster's external address, must be an IPv4 address or a DNS name (an IPv6
address can't be a label value: give it in the overlay). Quantities stay lenient (:data:`QuantityStr`), as
kubectl may print them as numbers. ``spec.resourceModels`` is refused where Karmada's API server refuses it
(``ValidateClusterResourceModels`` in pkg/apis/cluster/validation, after ``StandardizeClusterResourceModels``
sorted the models by grade and made the first minimum 0 and the last maximum unbounded): a range names cpu,
memory, storage or ephemeral-storage (``supportedResourceNames``), every model lists the same names in the same
order, each ``max`` is above its ``min``, a grade's ranges start where the grade below ends (compared by value:
Karmada compares the ``Quantity`` structs, so ``1`` and ``1000m`` only meet by value here), no grade twice;
grades are ``uint`` in Karmada's Go types and int32 in its schema, counts int32. ``status`` is not validated by
Karmada's API server (its status strategy validates nothing): what it accepts there (a negative count, a grade
listed twice or not modelled) is estimated as Karmada's estimator does (``fedrender.scheduler.capacity``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, model_validator

from fedrender.models import names
from fedrender.models.base import ObjectMeta, QuantityStr, ResourceList, Strict, fail_at
from fedrender.models.diagnostics import Location
from fedrender.models.quantity import parse_quantity

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


MODEL_RESOURCES = ("cpu", "memory", "storage", "ephemeral-storage")
"""The resources a resource model may describe (``supportedResourceNames`` in Karmada's validation.go)."""
Grade = Annotated[int, Field(ge=0, le=2**31 - 1)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class ResourceModelRange(Strict):
    """``[min, max)`` of resource ``name`` for one grade."""

    name: str
    min: QuantityStr
    max: QuantityStr


class ResourceModel(Strict):
    grade: Grade
    ranges: list[ResourceModelRange]


def resource_model_problems(models: list[ResourceModel]) -> list[tuple[tuple[str | int, ...], str, object]]:
    """(path below ``resourceModels``, problem, value) for models Karmada's API server refuses."""
    order = sorted(range(len(models)), key=lambda i: models[i].grade)
    out: list[tuple[tuple[str | int, ...], str, object]] = [
        ((index, "ranges", j, "name"), f"grade {model.grade} range {j} is {item.name!r}, but a resource model "
         f"describes only {', '.join(MODEL_RESOURCES)} (Karmada's API server refuses others); use one of them or "
         "remove this range from every model", item.name)
        for index, model in enumerate(models) for j, item in enumerate(model.ranges)
        if item.name not in MODEL_RESOURCES]
    for position, index in enumerate(order):
        model = models[index]
        if position == 0:
            continue
        previous = models[order[position - 1]]
        if model.grade == previous.grade:
            out.append(((index, "grade"), f"grade {model.grade} is defined twice; every model needs its own grade",
                        model.grade))
            continue
        if len(model.ranges) != len(previous.ranges):
            out.append(((index, "ranges"), f"grade {model.grade} has {len(model.ranges)} ranges and grade "
                        f"{previous.grade} {len(previous.ranges)}; every model describes the same resources",
                        len(model.ranges)))
            continue
        last = position == len(order) - 1
        for j, (item, before) in enumerate(zip(model.ranges, previous.ranges, strict=True)):
            if item.name != before.name:
                out.append(((index, "ranges", j, "name"), f"grade {model.grade} range {j} is {item.name!r} but "
                            f"grade {previous.grade} range {j} is {before.name!r}; list the resources in the same "
                            "order in every model", item.name))
            elif parse_quantity(before.max) != parse_quantity(item.min):
                out.append(((index, "ranges", j, "min"), f"{item.name}: grade {model.grade} starts at {item.min} "
                            f"but grade {previous.grade} ends at {before.max}; the ranges must be contiguous",
                            item.min))
            elif not last and parse_quantity(item.max) <= parse_quantity(item.min):
                out.append(((index, "ranges", j, "max"), f"{item.name}: max {item.max} of grade {model.grade} is "
                            f"not above its min {item.min}", item.max))
    if order:
        first = models[order[0]]
        out += [((order[0], "ranges", j, "max"), f"{item.name}: max {item.max} of grade {first.grade} is not above "
                 "0 (the first grade starts at 0)", item.max)
                for j, item in enumerate(first.ranges) if len(order) > 1 and parse_quantity(item.max) <= 0]
    return out


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
        fail_at("ClusterSpec", [(("resourceModels", *path), problem, value)
                                for path, problem, value in resource_model_problems(self.resourceModels)])
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
    """``count`` nodes whose free resources fall in grade ``grade`` of ``spec.resourceModels``."""

    grade: Grade
    count: Int32


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
    _vip_location: Location | None = PrivateAttr(default=None)

    def record_vip_location(self, location: Location | None) -> None:
        """Where the snapshot sets the ``vip`` label (the loader calls this; not part of the schema)."""
        self._vip_location = location

    @property
    def vip_location(self) -> Location | None:
        """Where the snapshot sets the ``vip`` label, when the loader said."""
        return self._vip_location

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
