"""FedState's ``MultiCloudMongoDB`` (middleware.fedstate.io/v1alpha1), every field of its CRD, accepted unchanged.

Strict as the API server is with the CRD (strict types, affinity weights 1-100) and as Kubernetes is with the
objects the fields become (names of Secrets, ConfigMaps and StorageClasses, labels, container resources, see
:mod:`fedrender.models.resources`).

One deliberate widening: ``imageSetting.imagePullSecret`` also takes a string, the name of an existing pull
Secret, as FedState's own launch article writes it. The CRD's object form ``{user, passwd}`` parses so that
the rule pack can refuse it with a useful message instead of a schema error.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from fedrender.models import names
from fedrender.models.base import (
    DNSSubdomain,
    LabelKey,
    LabelSelector,
    LabelValue,
    ObjectMeta,
    Strict,
    Toleration,
    fail_at,
    invalid,
)
from fedrender.models.resources import ResourceRequirements, StorageSize

API_VERSION = "middleware.fedstate.io/v1alpha1"
KIND = "MultiCloudMongoDB"


class AuthSetting(Strict):
    rootPasswd: str | None = None


class ConfigSetting(Strict):
    arbiter: bool | None = None
    configRef: DNSSubdomain | None = Field(default=None, description="name of a ConfigMap")
    configSet: dict[str, str] = Field(default_factory=dict)


class ExportSetting(Strict):
    enable: bool | None = None
    resource: ResourceRequirements | None = None


class ImagePullCredentials(Strict):
    user: str | None = None
    passwd: str | None = None


class ImageSetting(Strict):
    image: str | None = None
    imagePullPolicy: Literal["Always", "IfNotPresent", "Never"] | None = None
    imagePullSecret: str | ImagePullCredentials | None = None

    @model_validator(mode="after")
    def _secret_name(self) -> ImageSetting:
        if isinstance(self.imagePullSecret, str):
            fail_at("imageSetting", [(("imagePullSecret",), p, self.imagePullSecret)
                                     for p in names.dns1123_subdomain(self.imagePullSecret, "Secret name")])
        return self


class MemberSetting(Strict):
    memberConfigRef: DNSSubdomain | None = None


def _weight(value: int) -> int:
    if not 1 <= value <= 100:
        raise invalid(f"weight must be 1-100, as Kubernetes requires of preferred scheduling terms; got {value}")
    return value


Weight = Annotated[int, AfterValidator(_weight)]
"""The weight of a preferred (anti-)affinity term: 1-100 (kubernetes pkg/apis/core/validation)."""


class NodeSelectorRequirement(Strict):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: list[str] = Field(default_factory=list)


class NodeSelectorTerm(Strict):
    matchExpressions: list[NodeSelectorRequirement] = Field(default_factory=list)
    matchFields: list[NodeSelectorRequirement] = Field(default_factory=list)


class NodeSelector(Strict):
    nodeSelectorTerms: list[NodeSelectorTerm]


class PreferredSchedulingTerm(Strict):
    preference: NodeSelectorTerm
    weight: Weight


class NodeAffinity(Strict):
    preferredDuringSchedulingIgnoredDuringExecution: list[PreferredSchedulingTerm] = Field(default_factory=list)
    requiredDuringSchedulingIgnoredDuringExecution: NodeSelector | None = None


class PodAffinityTerm(Strict):
    labelSelector: LabelSelector | None = None
    namespaceSelector: LabelSelector | None = None
    namespaces: list[str] = Field(default_factory=list)
    topologyKey: LabelKey


class WeightedPodAffinityTerm(Strict):
    podAffinityTerm: PodAffinityTerm
    weight: Weight


class PodAffinity(Strict):
    preferredDuringSchedulingIgnoredDuringExecution: list[WeightedPodAffinityTerm] = Field(default_factory=list)
    requiredDuringSchedulingIgnoredDuringExecution: list[PodAffinityTerm] = Field(default_factory=list)


class Affinity(Strict):
    nodeAffinity: NodeAffinity | None = None
    podAffinity: PodAffinity | None = None
    podAntiAffinity: PodAffinity | None = None


class SchedulerSetting(Strict):
    affinity: Affinity | None = None
    schedulerMode: Literal["Uniform", "Weighting"] = "Uniform"
    schedulerName: DNSSubdomain | None = None
    tolerations: list[Toleration] = Field(default_factory=list)


class SpreadConstraint(Strict):
    maxGroups: int | None = None
    minGroups: int | None = None
    spreadByField: Literal["cluster", "region", "zone", "provider"] | None = None
    spreadByLabel: LabelKey | None = None


class SpreadSetting(Strict):
    """FedState's spread settings; ``nodeSelect`` holds node labels, checked as Kubernetes checks labels."""

    allowDynamicScheduler: bool | None = None
    nodeSelect: dict[LabelKey, LabelValue] = Field(default_factory=dict,
                                                   description="node labels, becomes nodeSelector")
    spreadConstraints: list[SpreadConstraint] = Field(default_factory=list)
    topologySpreadConstraints: dict[str, str] = Field(default_factory=dict)


class StorageSetting(Strict):
    storageClass: DNSSubdomain | None = None
    storageSize: StorageSize = "2Gi"


class MultiCloudMongoDBSpec(Strict):
    auth: AuthSetting | None = None
    config: ConfigSetting | None = None
    export: ExportSetting | None = None
    imageSetting: ImageSetting | None = None
    member: MemberSetting | None = None
    replicaset: int | None = Field(default=None, ge=-(2**31), lt=2**31)
    resource: ResourceRequirements | None = None
    scheduler: SchedulerSetting | None = None
    spreadConstraints: SpreadSetting | None = None
    storage: StorageSetting | None = None


class MultiCloudMongoDB(Strict):
    apiVersion: Literal["middleware.fedstate.io/v1alpha1"]
    kind: Literal["MultiCloudMongoDB"]
    metadata: ObjectMeta
    spec: MultiCloudMongoDBSpec
    status: dict[str, object] | None = None
