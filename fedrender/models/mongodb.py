"""FedState's ``MultiCloudMongoDB`` (middleware.fedstate.io/v1alpha1), every field of its CRD, accepted unchanged.

One deliberate widening: ``imageSetting.imagePullSecret`` also takes a string, the name of an existing pull
Secret, as FedState's own launch article writes it. The CRD's object form ``{user, passwd}`` parses so that
the rule pack can refuse it with a useful message instead of a schema error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fedrender.models.base import LabelSelector, ObjectMeta, ResourceList, Strict, Toleration

API_VERSION = "middleware.fedstate.io/v1alpha1"
KIND = "MultiCloudMongoDB"


class ResourceRequirements(Strict):
    limits: ResourceList = Field(default_factory=dict)
    requests: ResourceList = Field(default_factory=dict)


class AuthSetting(Strict):
    rootPasswd: str | None = None


class ConfigSetting(Strict):
    arbiter: bool | None = None
    configRef: str | None = None
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


class MemberSetting(Strict):
    memberConfigRef: str | None = None


class NodeSelectorRequirement(Strict):
    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class NodeSelectorTerm(Strict):
    matchExpressions: list[NodeSelectorRequirement] = Field(default_factory=list)
    matchFields: list[NodeSelectorRequirement] = Field(default_factory=list)


class NodeSelector(Strict):
    nodeSelectorTerms: list[NodeSelectorTerm]


class PreferredSchedulingTerm(Strict):
    preference: NodeSelectorTerm
    weight: int


class NodeAffinity(Strict):
    preferredDuringSchedulingIgnoredDuringExecution: list[PreferredSchedulingTerm] = Field(default_factory=list)
    requiredDuringSchedulingIgnoredDuringExecution: NodeSelector | None = None


class PodAffinityTerm(Strict):
    labelSelector: LabelSelector | None = None
    namespaceSelector: LabelSelector | None = None
    namespaces: list[str] = Field(default_factory=list)
    topologyKey: str


class WeightedPodAffinityTerm(Strict):
    podAffinityTerm: PodAffinityTerm
    weight: int


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
    schedulerName: str | None = None
    tolerations: list[Toleration] = Field(default_factory=list)


class SpreadConstraint(Strict):
    maxGroups: int | None = None
    minGroups: int | None = None
    spreadByField: Literal["cluster", "region", "zone", "provider"] | None = None
    spreadByLabel: str | None = None


class SpreadSetting(Strict):
    allowDynamicScheduler: bool | None = None
    nodeSelect: dict[str, str] = Field(default_factory=dict)
    spreadConstraints: list[SpreadConstraint] = Field(default_factory=list)
    topologySpreadConstraints: dict[str, str] = Field(default_factory=dict)


class StorageSetting(Strict):
    storageClass: str | None = None
    storageSize: str = "2Gi"


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
