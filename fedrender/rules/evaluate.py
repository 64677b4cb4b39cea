"""Evaluate a compiled pack's rules for one instance. Each function returns plain values; nothing is written."""

from __future__ import annotations

import datetime
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf.message import Message

from fedrender.cel.engine import EvalError, Program
from fedrender.cel.template import Template
from fedrender.models.diagnostics import Diagnostic, Location
from fedrender.models.overlay import Overlay
from fedrender.models.source import SourceDoc
from fedrender.models.views import ClusterTargetView, ClusterView, MemberView, MetadataView, OrdinalView
from fedrender.rules import settings as pack_settings
from fedrender.rules.pack import Pack, Rule, TemplateSpec


@dataclass(frozen=True)
class Instance:
    """One input object with its source document and the CEL values built from it once."""

    doc: SourceDoc
    namespace: str
    name: str
    spec: Message
    metadata: Message
    overlay: Message
    settings: Message
    variables: Message | None = None

    @property
    def subject(self) -> str:
        return f"{self.namespace}/{self.name}"

    def data(self, **extra: Any) -> dict[str, Any]:
        return {"spec": self.spec, "metadata": self.metadata, "overlay": self.overlay, "settings": self.settings,
                "variables": self.variables, **extra}


@dataclass(frozen=True)
class Verdict:
    """Whether a cluster takes new members, keeps the ones it has, why not, its score and its weight."""

    eligible: bool
    keeps: bool
    reason: str
    score: int
    weight: int


@dataclass(frozen=True)
class Override:
    """The evaluated overriders of one override rule for one cluster, as Karmada's ``overriders`` field,
    with where each came from (``locations[(field, index)]``)."""

    rule: str
    kinds: tuple[str, ...]
    overriders: dict[str, list[dict[str, Any]]]
    locations: dict[tuple[str, int], Location]
    location: Location


def failure(exc: EvalError, doc: SourceDoc | None = None) -> Diagnostic:
    """A rule that failed while evaluating, as a diagnostic at the rule's ``file:line:col`` that also names
    where the instance it was evaluated for is defined (``doc``); at the instance when the rule's place is
    unknown."""
    here = doc.location(("metadata", "name")) if doc is not None else None
    if exc.location is None:
        return Diagnostic(exc.message, here, "metadata.name" if here else "")
    return Diagnostic(f"{exc.message} (the instance is defined at {here})" if here else exc.message, exc.location)


def overlay_message(pack: Pack, overlay: Overlay) -> Message:
    """The CEL value of the overlay, for this pack's types (build it once per run)."""
    return pack.types.message(_type(pack, "Overlay"), overlay.model_dump(mode="json"))


def settings_message(pack: Pack, overlay: Overlay) -> Message:
    """The CEL value of the pack's settings (``settings.<name>``): the overlay's ``values.<pack>``, checked
    before (:func:`fedrender.rules.settings.problems`), over the declared defaults."""
    return pack.types.message(pack.settings_type, pack_settings.values(pack.name, pack.settings, overlay))


def instance(pack: Pack, doc: SourceDoc, spec: Mapping[str, Any], meta: MetadataView, overlay: Message,
             settings: Message) -> Instance:
    """An instance's CEL values, its pack's variables evaluated once."""
    inst = Instance(doc, meta.namespace, meta.name, pack.types.message(pack.spec_type, dict(spec)),
                    pack.types.message(_type(pack, "Metadata"), meta.model_dump()), overlay, settings)
    base = {"spec": inst.spec, "metadata": inst.metadata, "overlay": overlay, "settings": settings}
    values = {name: program.eval(base, inst.subject) for name, program in pack.variables}
    return Instance(inst.doc, inst.namespace, inst.name, inst.spec, inst.metadata, overlay, settings,
                    pack.types.message(pack.variables_type, values))


def with_variables(pack: Pack, inst: Instance, values: Mapping[str, Any]) -> Instance:
    """``inst`` with the variables named in ``values`` set to them, the others evaluated again (variables read
    only ``spec``, ``metadata``, ``overlay`` and ``settings``): a held upgrade renders the previous image."""
    base = {"spec": inst.spec, "metadata": inst.metadata, "overlay": inst.overlay, "settings": inst.settings}
    computed = {name: values[name] if name in values else program.eval(base, inst.subject)
                for name, program in pack.variables}
    return replace(inst, variables=pack.types.message(pack.variables_type, computed))


def variable(inst: Instance, name: str) -> Any:
    """The value of ``variables.<name>`` for ``inst``."""
    return getattr(inst.variables, name)


def lifecycle_version(pack: Pack, inst: Instance) -> str:
    """The release the instance's image runs (the pack's ``lifecycle.version``), "" without a lifecycle."""
    if pack.lifecycle is None:
        return ""
    return str(pack.lifecycle.version.eval(inst.data(), inst.subject))


def _type(pack: Pack, name: str) -> str:
    return f"{pack.types.package}.{name.lower()}.{name}"


def _message(rule: Rule, data: Mapping[str, Any], subject: str) -> str:
    if rule.message_program is not None:
        return str(rule.message_program.eval(data, subject))
    return rule.message or f"rule {rule.name!r} does not hold"


def validate(pack: Pack, inst: Instance) -> list[Diagnostic]:
    """Every failing validation, located at its fieldPath in the instance's file."""
    data = inst.data()
    out = []
    for rule in pack.validations:
        if rule.program.eval(data, inst.subject) is True:
            continue
        path = tuple(p for p in rule.field_path.split(".") if p)
        out.append(Diagnostic(f"{_message(rule, data, inst.subject)} [{pack.name}/{rule.name}]",
                              inst.doc.location(path), rule.field_path,
                              "error" if rule.severity == "deny" else "warning"))
    return out


def member_count(pack: Pack, inst: Instance) -> int:
    assert pack.member_count is not None
    return int(pack.member_count.eval(inst.data(), inst.subject))


def _list_of_maps(program: Program, inst: Instance, name: str, what: str,
                  data: dict[str, Any] | None = None, subject: str = "") -> list[dict[str, Any]]:
    """Evaluate a rule that must give a list of maps; EvalError naming the rule and instance otherwise."""
    value = program.eval(inst.data() if data is None else data, subject or inst.subject)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise EvalError(f"{name} must be a list of {what} for {subject or inst.subject}", program.expr.location())
    return [dict(v) for v in value]


def cluster_target_message(pack: Pack, view: ClusterTargetView) -> Message:
    return pack.types.message(_type(pack, "ClusterTarget"), view.model_dump())


def member_requests(pack: Pack, inst: Instance, init: bool = False, cluster: Message | None = None,
                    cluster_name: str = "") -> list[dict[str, dict[str, str]]]:
    """The ``{requests, limits}`` of each container (``init``: of each init container) of a member (in
    ``cluster``, a :func:`cluster_target_message`, when the pack's rules read it)."""
    program, name = ((pack.member_init_requests, "memberInitRequests") if init
                     else (pack.member_requests, "memberRequests"))
    assert program is not None
    data = inst.data(cluster=cluster) if cluster is not None else inst.data()
    subject = f"{inst.subject} on cluster {cluster_name}" if cluster_name else inst.subject
    value = _list_of_maps(program, inst, name, "{requests, limits} maps", data, subject)
    out = []
    for index, container in enumerate(value):
        entry: dict[str, dict[str, str]] = {}
        for key in ("requests", "limits"):
            amounts = container.get(key)
            if amounts is not None and not isinstance(amounts, Mapping):
                raise EvalError(f"{name} must give {key} as a map of resource names to quantities for {subject}, "
                                f"not {_cel_type(amounts)} (container {index})", program.expr.location())
            entry[key] = {}
            for resource, amount in dict(amounts or {}).items():
                if not isinstance(resource, str) or isinstance(amount, bool) or not isinstance(amount, (str, int)):
                    raise EvalError(f"{name} must give {key} as a map of resource names (strings) to quantities "
                                    f"(strings or ints) for {subject}, not {_cel_type(resource)} -> "
                                    f"{_cel_type(amount)} (container {index})", program.expr.location())
                entry[key][resource] = str(amount)
        out.append(entry)
    return out


def _cel_type(value: object) -> str:
    """A CEL value's type as CEL names it (messages about rules that return the wrong shape)."""
    for kind, word in ((bool, "a bool"), (int, "an int"), (float, "a double"), (str, "a string"),
                       ((bytes, bytearray), "bytes"), (Mapping, "a map"), ((list, tuple), "a list"),
                       (datetime.timedelta, "a duration"), (datetime.datetime, "a timestamp")):
        if isinstance(value, kind):
            return word
    return "null" if value is None else f"a {type(value).__name__}"


def cluster_message(pack: Pack, view: ClusterView) -> Message:
    return pack.types.message(_type(pack, "Cluster"), view.model_dump())


def member_limit(pack: Pack, inst: Instance, cluster: Message, name: str) -> tuple[int, str] | None:
    """The pack's ``memberLimit`` in one cluster (negative: none) and its reason, or None when the pack sets none
    or there is neither a limit nor a reason."""
    if pack.member_limit is None:
        return None
    expression, reason = pack.member_limit
    data = inst.data(cluster=cluster)
    subject = f"{inst.subject} on cluster {name}"
    limit, why = int(expression.eval(data, subject)), str(reason.eval(data, subject))
    return None if limit < 0 and not why else (limit, why)


def verdict(pack: Pack, inst: Instance, cluster: Message, name: str) -> Verdict:
    data = inst.data(cluster=cluster)
    subject = f"{inst.subject} on cluster {name}"
    blocks_new: Rule | None = None
    for rule in pack.filters:
        if rule.program.eval(data, subject) is True:
            continue
        if rule.applies_to == "all":  # members go too: nothing more to learn
            return Verdict(False, False, _message(rule, data, subject), 0, 0)
        blocks_new = blocks_new or rule
    if blocks_new is not None:
        return Verdict(False, True, _message(blocks_new, data, subject), 0, 0)
    score = sum(int(rule.program.eval(data, subject)) * rule.weight for rule in pack.scores)
    assert pack.weight is not None
    return Verdict(True, True, "", score, int(pack.weight.eval(data, subject)))


def group_caps(pack: Pack, inst: Instance, members: int, groups: dict[str, int]) -> dict[str, int]:
    """The pack's cap per group level, given the member count and how many groups of that level can hold members."""
    return {level: int(program.eval(inst.data(memberCount=members, groupCount=groups.get(level, 0)), inst.subject))
            for level, program in pack.group_caps}


def wants_arbiter(pack: Pack, inst: Instance, members: int) -> bool:
    assert pack.arbiter is not None
    return pack.arbiter.eval(inst.data(memberCount=members, groupCount=0), inst.subject) is True


def spread_constraints(pack: Pack, inst: Instance) -> list[dict[str, Any]]:
    assert pack.spread_constraints is not None
    return _list_of_maps(pack.spread_constraints, inst, "spreadConstraints", "maps")


def roles(pack: Pack, inst: Instance, slots: Sequence[tuple[int, str, int, str, dict[str, int], bool]],
          placement: Mapping[str, int], init_cluster: str, voters: Collection[int]) -> list[MemberView]:
    """Members with votes, priority and tags from the pack's role rules.

    ``slots`` are (id, cluster, ordinal, host, nodePorts by port name, arbiterOnly); the rules see
    ``member.voter`` true for the ``_id``s in ``voters``."""
    assert pack.votes is not None
    assert pack.priority is not None
    assert pack.tags is not None
    member_type = _type(pack, "Member")
    out = []
    for id_, cluster, ordinal, host, ports, arbiter in slots:
        base = MemberView(id=id_, cluster=cluster, ordinal=ordinal, host=host, nodePort=next(iter(ports.values())),
                          nodePorts=ports, arbiterOnly=arbiter, voter=id_ in voters)
        data = inst.data(member=pack.types.message(member_type, base.model_dump()), memberCount=len(slots),
                         placement=dict(placement), initCluster=init_cluster)
        subject = f"{inst.subject} member {id_}"
        votes = int(pack.votes.eval(data, subject))
        data["member"] = pack.types.message(member_type, base.model_copy(update={"votes": votes}).model_dump())
        priority = int(pack.priority.eval(data, subject))
        tags = {str(k): str(v) for k, v in dict(pack.tags.eval(data, subject)).items()}
        out.append(base.model_copy(update={"votes": votes, "priority": priority, "tags": tags}))
    return out


def placed_data(pack: Pack, inst: Instance, members: Sequence[MemberView], placement: Mapping[str, int],
                previous: Mapping[str, int], eligible: int, init_cluster: str,
                ordinals: Sequence[OrdinalView], initialized: bool = False,
                lifecycle: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The placed-stage variables (checks, templates, overrides). ``initialized``: an observed state showed the
    replica set initiated, now or in an earlier render (``fedrender.day2.observe.initialized``). ``lifecycle``:
    the release rendered and the featureCompatibilityVersion asked for (``fedrender.day2.versions``)."""
    member_type, ordinal_type = _type(pack, "Member"), _type(pack, "Ordinal")
    return inst.data(members=[pack.types.message(member_type, m.model_dump()) for m in members],
                     placement=dict(placement), previous=dict(previous), eligibleCount=eligible,
                     initCluster=init_cluster, ordinals=[pack.types.message(ordinal_type, o.model_dump())
                                                         for o in ordinals], initialized=initialized,
                     lifecycle={"version": "", "featureCompatibilityVersion": "", **(lifecycle or {})})


def checks(pack: Pack, inst: Instance, data: Mapping[str, Any]) -> list[Diagnostic]:
    out = []
    for rule in pack.checks:
        if rule.program.eval(data, inst.subject) is not True:
            path = tuple(p for p in rule.field_path.split(".") if p)
            out.append(Diagnostic(f"{inst.subject}: {_message(rule, data, inst.subject)} [{pack.name}/{rule.name}]",
                                  inst.doc.location(path), rule.field_path,
                                  "error" if rule.severity == "deny" else "warning"))
    return out


def references(pack: Pack, inst: Instance) -> list[tuple[str, str]]:
    """(kind, name) of every Secret and ConfigMap the templates reference, empty names dropped, sorted."""
    data = inst.data()
    found = {(kind, str(p.eval(data, inst.subject))) for kind, p in pack.references}
    return sorted((kind, name) for kind, name in found if name)


def templates(pack: Pack, inst: Instance, data: Mapping[str, Any],
              ordinals: Sequence[OrdinalView]) -> list[tuple[TemplateSpec, dict[str, Any], int | None]]:
    """Rendered templates with the ordinal each ``forEach: ordinal`` copy was rendered for."""
    out: list[tuple[TemplateSpec, dict[str, Any], int | None]] = []
    ordinal_type = _type(pack, "Ordinal")
    for spec in pack.templates:
        if spec.include_when.eval(data, inst.subject) is not True:
            continue
        contexts: list[tuple[dict[str, Any], int | None]] = (
            [({**data, "ordinal": pack.types.message(ordinal_type, o.model_dump())}, o.index) for o in ordinals]
            if spec.for_each == "ordinal" else [(dict(data), None)])
        for context, index in contexts:
            rendered = spec.template.render(context, f"{inst.subject} ({spec.template.file})")
            if not isinstance(rendered, dict):
                raise EvalError(f"a template must render to a mapping ({inst.subject})", spec.template.location)
            out.append((spec, rendered, index))
    return out


def platform(pack: Pack, clusters: Sequence[str], overlay: Message, settings: Message,
             version: str) -> list[tuple[str, Template, dict[str, Any]]]:
    """The pack's platform objects with their target (controlPlane or members) and the template of each."""
    data = {"clusters": list(clusters), "overlay": overlay, "settings": settings, "version": version}
    out = []
    for target, template in pack.platform:
        rendered = template.render(data, f"platform of pack {pack.name}")
        if not isinstance(rendered, dict):
            raise EvalError("a template must render to a mapping", template.location)
        out.append((target, template, rendered))
    return out


def platform_checks(pack: Pack, clusters: Sequence[str], overlay: Message, settings: Message,
                    version: str) -> list[Diagnostic]:
    """Every failing platform check, an error (deny) or a warning (warn), located at the rule in pack.yaml."""
    data = {"clusters": list(clusters), "overlay": overlay, "settings": settings, "version": version}
    subject = f"the platform of pack {pack.name}"
    return [Diagnostic(f"{subject}: {_message(rule, data, subject)} [{pack.name}/{rule.name}]", rule.location,
                       severity="error" if rule.severity == "deny" else "warning")
            for rule in pack.platform_checks if rule.program.eval(data, subject) is not True]


def cluster_tolerations(pack: Pack, inst: Instance) -> list[dict[str, Any]]:
    """Extra Karmada clusterTolerations the instance asks for (the pack's ``clusterTolerations``)."""
    if pack.cluster_tolerations is None:
        return []
    return _list_of_maps(pack.cluster_tolerations, inst, "clusterTolerations", "tolerations")


def overrides(pack: Pack, inst: Instance, data: Mapping[str, Any], cluster: Message, name: str) -> list[Override]:
    context = {**data, "cluster": cluster}
    subject = f"{inst.subject} on cluster {name}"
    out = []
    for rule in pack.overrides:
        if rule.when.eval(context, subject) is not True:
            continue
        overriders: dict[str, list[dict[str, Any]]] = {}
        locations: dict[tuple[str, int], Location] = {}
        for entry in rule.entries:
            item = dict(entry.static)
            if entry.value is not None:
                value = entry.value.eval(context, subject)
                item["value"] = {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) and \
                    entry.field != "plaintext" else value
            locations[(entry.field, len(overriders.get(entry.field, [])))] = entry.location
            overriders.setdefault(entry.field, []).append(item)
        out.append(Override(rule.name, rule.kinds, overriders, locations, rule.location))
    return out
