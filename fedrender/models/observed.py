"""Observed ``MongoReplicaSet`` objects (``fedrender.io/v1alpha1``), as the Karmada API server holds them: the
GitOps loop's feedback, read from the snapshot beside the Clusters (``kubectl get
clusters.cluster.karmada.io,mongoreplicasets.fedrender.io -A -o yaml``, or ``fedrender snapshot``).

Two halves, two rules:

* ``spec`` is what fedrender rendered (``rules/mongodb/templates/mongoreplicaset.yaml``, the CRD in
  ``rules/mongodb/platform/crd.yaml``): read **strictly** (``extra="forbid"``, strict types), as every input is;
  an unknown field there means the object is not one this fedrender wrote.
* ``status`` is written by the reconcilers and aggregated by Karmada (``AggregateStatus`` in
  ``rules/mongodb/platform/interpreter.yaml``): read **tolerantly**. The fields read here are typed (a wrong
  type is still an error at its line), but fields this fedrender does not know are ignored, so that a newer
  reconciler (or a newer aggregation) that reports more never breaks an older renderer.

``metadata.generation`` is the API server's count of spec changes (Kubernetes API conventions, "Metadata":
"generation: a sequence number representing a specific generation of the desired state");
``status.observedGeneration`` is set by the aggregation only when every member cluster's reconciler has acted
on the spec of that generation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fedrender.models.base import ClusterName, ObjectMeta, Strict

API_VERSION = "fedrender.io/v1alpha1"
KIND = "MongoReplicaSet"
INT32_MAX = 2**31 - 1


class Tolerant(BaseModel):
    """Like :class:`Strict` (strict types, frozen), but fields it does not declare are ignored: the status half."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, strict=True)


class RosterMember(Strict):
    """One member of ``spec.members``, as fedrender rendered it (``replSetGetConfig`` member fields)."""

    id: int = Field(alias="_id", ge=0, le=INT32_MAX)
    host: str
    cluster: ClusterName
    ordinal: int = Field(ge=0, le=INT32_MAX)
    votes: int = Field(ge=0, le=1)
    priority: float = Field(ge=0, le=1000)
    tags: dict[str, str] = Field(default_factory=dict)
    arbiterOnly: bool = False
    leaving: bool = False
    """Marked leaving by the render (scale-down, first phase): the reconciler removes it from the configuration."""


class SecretRef(Strict):
    secretName: str


class StorageSpec(Strict):
    """``spec.storage``: the size each member's PersistentVolumeClaim is grown to, per claim template name."""

    claims: dict[str, str] = Field(default_factory=dict)


class ObservedSpec(Strict):
    """``spec`` of a MongoReplicaSet: the roster fedrender rendered."""

    replicaSetName: str
    statefulSetName: str
    initCluster: ClusterName
    init: bool | None = None
    initialized: bool = False
    keyFileSecret: str
    templateHash: str = ""
    """The instance's pod templates' hash (:mod:`fedrender.composer.templatehash`)."""
    rolloutMaxLagSeconds: int | None = Field(default=None, ge=0, le=INT32_MAX)
    members: list[RosterMember] = Field(min_length=1, max_length=50)
    users: dict[Literal["root", "clusterAdmin", "clusterMonitor"], SecretRef]
    storage: StorageSpec | None = None
    version: str = ""
    """The release (major.minor) the rendered image runs, "" unknown."""
    featureCompatibilityVersion: str = ""
    """The featureCompatibilityVersion the reconciler is asked to set, "" for none."""


class StatusMember(Tolerant):
    """A member of the replica set configuration, as the reporting cluster's reconciler saw it
    (``replSetGetStatus``: ``stateStr``, ``health`` 1 or 0; ``replSetGetConfig``: ``votes``)."""

    id: int = Field(alias="_id")
    host: str
    stateStr: str = ""
    health: int = 0
    votes: int | None = None
    version: str = ""
    """The member's binary (``buildInfo.version``, e.g. "7.0.14"), reported by its own cluster; "" unknown."""


class StatusCondition(Tolerant):
    type: str
    status: str
    reason: str = ""
    message: str = ""


class ObservedStatus(Tolerant):
    """``status`` as Karmada aggregated it in the control plane (and, per cluster, in ``clusters``)."""

    observedGeneration: int | None = None
    phase: str = ""
    primary: str = ""
    configVersion: int = 0
    initialized: bool = False
    members: list[StatusMember] = Field(default_factory=list)
    conditions: list[StatusCondition] = Field(default_factory=list)
    updatedMembers: int | None = None
    """Members that run the current pod template, summed over the clusters (None: no reconciler reported it)."""
    featureCompatibilityVersion: str = ""
    """``getParameter featureCompatibilityVersion``'s ``version`` on the primary, from the cluster that reaches it;
    "" unknown."""
    fcvTargetVersion: str = ""
    """Its ``targetVersion``: non-empty while an FCV change is half-done (MongoDB manual,
    setFeatureCompatibilityVersion, "Get FeatureCompatibilityVersion")."""


class ObservedReplicaSet(Strict):
    """A ``MongoReplicaSet`` of the snapshot. ``metadata`` is checked as every input's is."""

    apiVersion: Literal["fedrender.io/v1alpha1"]
    kind: Literal["MongoReplicaSet"]
    metadata: ObjectMeta
    spec: ObservedSpec
    status: ObservedStatus | None = None

    @property
    def key(self) -> str:
        """``namespace/name`` (a missing namespace is ``default``, as with kubectl)."""
        return f"{self.metadata.namespace or 'default'}/{self.metadata.name}"
