"""The rule-pack format (``rules/<middleware>/pack.yaml``): what a middleware needs, as CEL and templates.

Field values typed ``CEL`` hold CEL source; the rules layer compiles them against the pack's environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from fedrender.models import names
from fedrender.models.base import Strict
from fedrender.models.parse import type_message

CEL = str


class PackMetadata(Strict):
    """``name`` is a DNS-1035 label (a letter first, at most 63 characters): it names the pack's output folder
    and, with ``-`` as ``_``, the protobuf package of its CEL types, whose parts must start with a letter."""

    name: str = Field(pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
    version: str
    description: str = ""


class InputKind(Strict):
    """The kind of object the pack renders. Built-in kinds (FedState's MultiCloudMongoDB) need no schema; a
    new kind names a CustomResourceDefinition file in the pack (``schema``) that defines it."""

    apiVersion: str
    kind: str
    schema_: str | None = Field(default=None, alias="schema", description="CRD file, relative to the pack")


class Variable(Strict):
    """A named value computed once per instance from ``spec``, ``metadata`` and ``overlay``; every rule after it
    reads it as ``variables.<name>``. ``type`` is a CEL type: int, uint, double, bool, string, dyn,
    list(T), map(string, T)."""

    name: str = Field(pattern=r"^[a-z][A-Za-z0-9]*$")
    type: str
    expression: CEL


class Setting(Strict):
    """A knob users turn per environment: an overlay sets it as ``values.<pack name>.<name>`` and every rule and
    template reads it as ``settings.<name>`` (``default`` when no overlay sets it). fedrender checks each value
    against ``type``, ``minimum``/``maximum`` (integers) and ``enum`` (strings) at its overlay file:line:col;
    a key under ``values.<pack name>`` that is no setting is refused, so a misspelt one can't go unnoticed."""

    name: str = Field(pattern=r"^[a-z][A-Za-z0-9]*$")
    type: Literal["integer", "boolean", "string"]
    default: StrictInt | StrictBool | StrictStr
    minimum: StrictInt | None = None
    maximum: StrictInt | None = None
    enum: list[str] = Field(default_factory=list, description="the allowed values of a string setting")
    format: Literal["image"] | None = Field(default=None, description="of a string setting: 'image', a container "
                                            "image reference (distribution/reference), or empty for the default")
    formerly: str = Field(default="", pattern=r"^([a-z][A-Za-z0-9]*)?$",
                          description="a key directly under overlay values that set this before it was a setting: "
                                      "values.<formerly> is still read (when values.<pack>.<name> is not set), "
                                      "checked the same way, with a warning to move it")
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Setting:
        if (self.minimum is not None or self.maximum is not None) and self.type != "integer":
            raise ValueError("minimum and maximum bound integer settings only")
        if self.enum and self.type != "string":
            raise ValueError("enum lists the values of a string setting only")
        if self.format and self.type != "string":
            raise ValueError("format describes a string setting only")
        problem = setting_problem(self, self.default)
        if problem:
            raise ValueError(f"default: {problem}")
        return self


_SETTING_TYPES = {"integer": (int, "an integer"), "boolean": (bool, "true or false"), "string": (str, "a string")}


def setting_problem(setting: Setting, value: object) -> str:
    """Why ``value`` can't be ``setting`` (empty when it can): the wrong type (no coercion: ``"600"`` is not
    an integer, as the API server would say), out of bounds, not one of ``enum``, or not of its ``format``
    (an image reference as :func:`fedrender.models.names.image_reference` reads it)."""
    kind, what = _SETTING_TYPES[setting.type]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return type_message([what], value)  # as every input's wrong types are told: "got a string '600'"
    if isinstance(value, int) and not isinstance(value, bool):
        if setting.minimum is not None and value < setting.minimum:
            return f"{value} is below the minimum {setting.minimum}"
        if setting.maximum is not None and value > setting.maximum:
            return f"{value} is above the maximum {setting.maximum}"
    if setting.enum and value not in setting.enum:
        return f"{value!r} is not one of {', '.join(setting.enum)}"
    if setting.format == "image" and value != "":
        problems = names.image_reference(value)
        return problems[0] if problems else ""
    return ""


class Validation(Strict):
    """A check over one instance (``spec``, ``metadata``, ``overlay``); deny fails the render, warn reports."""

    name: str
    expression: CEL
    message: str = ""
    messageExpression: CEL | None = None
    fieldPath: str = ""
    severity: Literal["deny", "warn"] = "deny"


class Filter(Strict):
    """A cluster is eligible only if every filter holds; ``reason`` (CEL string) says why it doesn't.

    ``appliesTo: new`` only keeps new members out (a NoSchedule taint, a full cluster): members already
    there stay. ``all`` (the default) also moves existing members away (NotReady, NoExecute).
    """

    name: str
    expression: CEL
    reason: CEL
    appliesTo: Literal["all", "new"] = "all"


class Score(Strict):
    """An int per eligible cluster; the weighted sum orders clusters (higher first, ties by name)."""

    name: str
    expression: CEL
    weight: int = 1


class MemberLimit(Strict):
    """At most ``expression`` (CEL int per cluster) members of the instance in a cluster: what fits there is capped
    by it, and ``reason`` (CEL string) says why in ``explain``. Negative: no limit."""

    expression: CEL = "-1"
    reason: CEL = "''"


class PlacementCheck(Strict):
    """A check over the finished placement (``placement``, ``members``, ``eligible``), reported at ``fieldPath``
    of the instance's file (its first line without one)."""

    name: str
    expression: CEL
    message: str = ""
    messageExpression: CEL | None = None
    fieldPath: str = ""
    severity: Literal["deny", "warn"] = "deny"


class GroupCap(Strict):
    """At most ``maxMembers`` (CEL int over ``memberCount`` and ``groupCount``) members per group."""

    groupBy: Literal["cluster", "region", "zone", "provider"]
    maxMembers: CEL


class MemberCount(Strict):
    expression: CEL = Field(description="int: how many members the instance asks for")
    fieldPath: str = Field(default="", description="where in the input that number is (for error messages)")


class Scheduling(Strict):
    memberCount: MemberCount
    memberRequests: CEL = Field(description="list of {requests, limits}: the resources of each container of a member")
    memberInitRequests: CEL = Field(default="[]", description=(
        "list of {requests, limits}: the resources of each init container of a member (per resource the largest "
        "counts when it is above the containers' sum)"))
    clusterTolerations: CEL | None = Field(default=None, description="list of Karmada cluster tolerations")
    filters: list[Filter] = Field(default_factory=list)
    scores: list[Score] = Field(default_factory=list)
    weight: CEL = Field(default="1", description="int per cluster: members are divided in proportion to it")
    memberLimit: MemberLimit = Field(default_factory=MemberLimit, description=(
        "int per cluster: at most this many members there (negative: no limit), e.g. one per node when members "
        "must not share one"))
    groupCaps: list[GroupCap] = Field(default_factory=list)
    arbiter: CEL = Field(default="false", description="bool over `memberCount`: add an arbiter (a voting member "
                                                     "without data) to the members")
    spreadConstraints: CEL = Field(default="[]",
                                   description="list of {spreadByField|spreadByLabel, minGroups, maxGroups}")
    checks: list[PlacementCheck] = Field(default_factory=list)


class Roles(Strict):
    votes: CEL
    priority: CEL
    tags: CEL = "{}"


Operator = Literal["add", "remove", "replace"]
JsonPointer = Field(pattern=r"^(/([^~/]|~[01])*)+$", description="RFC 6901 path")


class MapOverrider(Strict):
    """labelsOverrider / annotationsOverrider: ``value`` is CEL returning map(string, string)."""

    operator: Operator
    value: CEL


class PlaintextOverrider(Strict):
    """RFC 6902 on the template; ``value`` is CEL (not used by ``remove``)."""

    operator: Operator
    path: str = JsonPointer
    value: CEL | None = None


class ImagePredicate(Strict):
    path: str = JsonPointer


class ImageOverrider(Strict):
    """Karmada's imageOverrider; ``value`` is CEL returning a string. Without ``predicate`` it rewrites every
    ``containers[*].image`` of Pod, ReplicaSet, Deployment, DaemonSet, StatefulSet and Job."""

    component: Literal["Registry", "Repository", "Tag"]
    operator: Operator
    value: CEL = "''"
    predicate: ImagePredicate | None = None


class OverrideRule(Strict):
    """Per target cluster: when ``when`` holds, these Karmada overriders (values are CEL) apply to the objects
    of ``kinds`` (rendered from ``templates`` when given)."""

    name: str
    kinds: list[str] = Field(min_length=1)
    templates: list[str] = Field(default_factory=list, description="template files; empty means all")
    when: CEL = "true"
    imageOverrider: list[ImageOverrider] = Field(default_factory=list)
    labelsOverrider: list[MapOverrider] = Field(default_factory=list)
    annotationsOverrider: list[MapOverrider] = Field(default_factory=list)
    plaintext: list[PlaintextOverrider] = Field(default_factory=list)


class Template(Strict):
    """A manifest template (``${...}`` CEL) and how Karmada propagates it."""

    file: str
    propagation: Literal["divided", "all", "ordinal", "arbiter"]
    forEach: Literal["ordinal"] | None = None
    includeWhen: CEL = "true"
    stateful: bool = False


class PlatformTemplate(Strict):
    """Rendered once per output into ``platform/<pack>/`` (the pack's CRDs, controllers, interpreters).

    ``controlPlane`` objects stay in the Karmada control plane; ``members`` objects are also propagated, by one
    ClusterPropagationPolicy, to every cluster that holds members of this pack. Templates see ``clusters``
    (those cluster names), ``overlay`` and ``version`` (fedrender's)."""

    file: str
    target: Literal["controlPlane", "members"]


class PlatformCheck(Strict):
    """A check over the platform objects' inputs (``clusters``, ``overlay``, ``version``), once per output;
    deny fails the render, warn reports (e.g. a default image the overlay should replace)."""

    name: str
    expression: CEL
    message: str = ""
    messageExpression: CEL | None = None
    severity: Literal["deny", "warn"] = "deny"


class Reference(Strict):
    """An object the templates reference and the user creates in the control plane (never rendered)."""

    kind: Literal["Secret", "ConfigMap"]
    name: CEL = Field(description="string; an empty name means no reference")


class RequestedVersion(Strict):
    """Where a person asks for the feature compatibility version: an overlay setting of the pack (one per
    environment; its ``default`` applies when none sets it) overridden per instance by an annotation of the input
    object (a metadata annotation leaves the input's own schema unchanged). "" asks for nothing."""

    setting: str = Field(pattern=r"^[a-z][A-Za-z0-9]*$", description="a string setting of this pack")
    annotation: str = Field(default="", pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$|^$",
                            description="an annotation of the input object that overrides it per instance")


class Lifecycle(Strict):
    """What a pack's middleware supports over the life of a running instance (issue 14, day-2 operations);
    every part optional.

    ``claimGrowth``: a larger storage size grows the PersistentVolumeClaims (:mod:`fedrender.pipeline.workloads`).
    How the middleware's own version moves (all or none of): ``versionPolicy`` names the rules that judge a change
    (``mongodb``: :mod:`fedrender.day2.versions`); ``version`` (CEL string, instance stage) is the release the
    members' image runs, "" when unknown (a digest-only image); ``image`` names the variable holding that image,
    which a held upgrade renders as the previous render had it; ``featureCompatibilityVersion`` says where a person
    asks for one."""

    claimGrowth: bool = Field(default=False, description=(
        "a larger storage size in the spec grows each member's PersistentVolumeClaim (the pack's reconciler "
        "patches them) while the StatefulSet's volumeClaimTemplates keep the size they were created with; "
        "without it a size change of a running StatefulSet is refused like any immutable field"))
    versionPolicy: Literal["mongodb"] | None = Field(default=None, description=(
        "the rules that judge a version change; none: the pack has no version rules"))
    version: CEL | None = Field(default=None, description=(
        "string: the release (major.minor) the image runs, '' when unknown"))
    image: str = Field(default="", pattern=r"^([a-z][A-Za-z0-9]*)?$",
                       description="the variable that holds the members' image")
    imageField: str = Field(default="", description="where the input sets the image (for error messages)")
    featureCompatibilityVersion: RequestedVersion | None = None

    @model_validator(mode="after")
    def _version_rules_together(self) -> Lifecycle:
        given = {"versionPolicy": self.versionPolicy is not None, "version": self.version is not None,
                 "image": bool(self.image)}
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(k for k, v in given.items() if not v)
            raise ValueError(f"versionPolicy, version and image go together: {missing} missing")
        if self.featureCompatibilityVersion is not None and self.versionPolicy is None:
            raise ValueError("featureCompatibilityVersion needs versionPolicy, version and image")
        return self

    @property
    def versions(self) -> bool:
        """Whether the pack declares version rules."""
        return self.versionPolicy is not None


class PackSpec(Strict):
    input: InputKind
    settings: list[Setting] = Field(default_factory=list, description="what overlays may set as "
                                    "values.<pack name>.<setting>; rules read settings.<name>")
    memberPorts: list[str] = Field(
        default_factory=lambda: ["member"], min_length=1,
        description="names of the ports every member exposes through its NodePort Service; the first is the "
                    "member's host port, each gets its own nodePort (ordinal.nodePorts / member.nodePorts)")
    variables: list[Variable] = Field(default_factory=list)
    validations: list[Validation] = Field(default_factory=list)
    scheduling: Scheduling
    roles: Roles
    references: list[Reference] = Field(default_factory=list)
    overrides: list[OverrideRule] = Field(default_factory=list)
    templates: list[Template] = Field(min_length=1)
    platform: list[PlatformTemplate] = Field(default_factory=list)
    platformChecks: list[PlatformCheck] = Field(default_factory=list)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle, description=(
        "what the middleware supports over a running instance's life: storage growth, version rules"))


class RulePack(Strict):
    apiVersion: Literal["fedrender.io/v1alpha1"]
    kind: Literal["RulePack"]
    metadata: PackMetadata
    spec: PackSpec
