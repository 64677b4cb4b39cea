"""Load a rule pack and compile every expression in it once, against typed per-stage environments.

Stages and the variables their expressions see:

========== ==================================================================================
instance   ``spec``, ``metadata``, ``overlay``, ``settings``      (validations, references, spread)
cluster    instance + ``cluster``                                  (filters, scores, weight)
capacity   instance + ``memberCount``, ``groupCount``              (groupCaps, arbiter)
member     instance + ``member``, ``memberCount``, ``placement``, ``initCluster``   (roles)
placed     instance + ``members``, ``placement``, ``previous``, ``eligibleCount``, ``initCluster``,
           ``ordinals``, ``initialized``, ``lifecycle`` (checks)
template   placed + ``ordinal`` (forEach templates)                (templates)
override   placed + ``cluster``                                    (override rules)
========== ==================================================================================
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import SchemaError as PydanticSchemaError

from fedrender.cel.engine import CompileError, Environment, Expr, Program
from fedrender.cel.template import Template
from fedrender.cel.types import SchemaTypeError, TypeRegistry
from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.models.dynamic import SchemaError, crd_schema, input_model
from fedrender.models.inputfile import read_input
from fedrender.models.karmada import POD_SPEC
from fedrender.models.kinds import INPUT_KINDS
from fedrender.models.overlay import Overlay
from fedrender.models.parse import parse_model
from fedrender.models.rulepack import InputKind, OverrideRule, RulePack, Setting
from fedrender.models.rulepack import Template as TemplateModel
from fedrender.models.source import PathKey, SourceDoc, format_path, load_file
from fedrender.models.views import ClusterTargetView, ClusterView, MemberView, MetadataView, OrdinalView
from fedrender.rules import settings as pack_settings

PACK_FILE = "pack.yaml"


@dataclass(frozen=True)
class Rule:
    """A named, compiled rule with its optional message expression."""

    name: str
    program: Program
    message: str = ""
    message_program: Program | None = None
    severity: str = "deny"
    field_path: str = ""
    weight: int = 1
    location: Location | None = None
    applies_to: str = "all"


@dataclass(frozen=True)
class CompiledOverrider:
    """One Karmada overrider: its field (``plaintext``, ...), its static part, its compiled value, its source."""

    field: str
    static: dict[str, Any]
    value: Program | None
    location: Location


@dataclass(frozen=True)
class Overriders:
    """One override rule: its kinds, its ``when`` and its overriders, values compiled."""

    name: str
    kinds: tuple[str, ...]
    templates: tuple[str, ...]
    when: Program
    entries: tuple[CompiledOverrider, ...]
    location: Location

    def targets(self, obj: dict[str, Any], template_file: str) -> bool:
        return obj.get("kind") in self.kinds and (not self.templates or template_file in self.templates)


@dataclass(frozen=True)
class TemplateSpec:
    file: str
    template: Template
    propagation: str
    for_each: str | None
    stateful: bool
    include_when: Program


@dataclass(frozen=True)
class CompiledLifecycle:
    """A pack's ``lifecycle`` block, compiled (:class:`fedrender.models.rulepack.Lifecycle`)."""

    policy: str
    version: Program
    image: str
    image_field: str
    fcv_setting: str = ""
    fcv_annotation: str = ""
    location: Location | None = None


@dataclass
class Pack:
    """A compiled rule pack, ready to evaluate."""

    name: str
    version: str
    directory: Path
    digest: str
    input_model: type[BaseModel]
    api_version: str
    kind: str
    types: TypeRegistry
    spec_type: str
    variables_type: str = ""
    variables: list[tuple[str, Program]] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    settings_type: str = ""
    member_ports: list[str] = field(default_factory=lambda: ["member"])
    validations: list[Rule] = field(default_factory=list)
    filters: list[Rule] = field(default_factory=list)
    scores: list[Rule] = field(default_factory=list)
    checks: list[Rule] = field(default_factory=list)
    member_count: Program | None = None
    member_count_path: str = ""
    member_requests: Program | None = None
    member_init_requests: Program | None = None
    requests_by_cluster: bool = False
    """``memberRequests`` or ``memberInitRequests`` read ``cluster``: members ask for more in some clusters."""
    cluster_tolerations: Program | None = None
    member_limit: tuple[Program, Program] | None = None
    """``scheduling.memberLimit``: (expression, reason); None when the pack sets none."""
    weight: Program | None = None
    spread_constraints: Program | None = None
    arbiter: Program | None = None
    group_caps: list[tuple[str, Program]] = field(default_factory=list)
    votes: Program | None = None
    priority: Program | None = None
    tags: Program | None = None
    references: list[tuple[str, Program]] = field(default_factory=list)
    overrides: list[Overriders] = field(default_factory=list)
    templates: list[TemplateSpec] = field(default_factory=list)
    platform: list[tuple[str, Template]] = field(default_factory=list)
    platform_checks: list[Rule] = field(default_factory=list)
    source: Location | None = None  # where pack.yaml declares the input kind
    claim_growth: Location | None = None
    """Where pack.yaml sets ``lifecycle.claimGrowth: true``; None when it does not (storage size is immutable)."""
    lifecycle: CompiledLifecycle | None = None
    """``lifecycle``: how the middleware's version moves; None when the pack declares none."""


class _Compiler:
    def __init__(self, doc: SourceDoc, envs: dict[str, Environment]) -> None:
        self.doc = doc
        self.envs = envs
        self.diagnostics: list[Diagnostic] = []

    def _expr(self, path: PathKey, text: str, rule: str) -> Expr:
        pos = self.doc.value_position(path)
        return Expr(text, self.doc.file, pos.line if pos else 0, pos.col if pos else 0, pos.style if pos else None,
                    rule)

    def program(self, stage: str, path: PathKey, text: str, rule: str, expect: str | None = None) -> Program:
        expr = self._expr(path, text, rule)
        try:
            return self.envs[stage].compile(expr, expect)
        except CompileError as exc:
            self.diagnostics.extend(exc.diagnostics)
            return self.envs[stage].compile(Expr("null"))

    def requests(self, path: PathKey, text: str, rule: str) -> tuple[Program, bool]:
        """A ``memberRequests`` rule, and whether it reads ``cluster`` (then it is evaluated per cluster; one
        that doesn't is evaluated once per instance)."""
        try:
            return self.envs["instance"].compile(self._expr(path, text, rule)), False
        except CompileError:
            return self.program("requests", path, text, rule), True

    def rule(self, stage: str, path: PathKey, item: Any, expect: str, message_stage: str | None = None) -> Rule:
        program = self.program(stage, (*path, "expression"), item.expression, item.name, expect)
        message_program = None
        message_source = getattr(item, "messageExpression", None) or getattr(item, "reason", None)
        if message_source:
            key = "messageExpression" if getattr(item, "messageExpression", None) else "reason"
            message_program = self.program(message_stage or stage, (*path, key), message_source, item.name, "string")
        return Rule(item.name, program, getattr(item, "message", ""), message_program,
                    getattr(item, "severity", "deny"), getattr(item, "fieldPath", ""),
                    getattr(item, "weight", 1), self.doc.location(path), getattr(item, "appliesTo", "all"))


_JSON_TYPES = {"int": "integer", "uint": "integer", "double": "number", "bool": "boolean", "string": "string"}


def variable_schema(signature: str) -> dict[str, Any]:
    """The JSON Schema (for the typed CEL message) of a declared CEL type."""
    text = signature.replace(" ", "")
    if text in _JSON_TYPES:
        return {"type": _JSON_TYPES[text]}
    if text.startswith("list(") and text.endswith(")"):
        return {"type": "array", "items": variable_schema(text[5:-1])}
    if text.startswith("map(string,") and text.endswith(")"):
        return {"type": "object", "additionalProperties": variable_schema(text[11:-1])}
    if text == "dyn":
        return {}
    raise ValueError(f"unsupported variable type {signature!r} (use int, uint, double, bool, string, dyn, "
                     "list(T) or map(string, T))")


def _environments(types: TypeRegistry, spec_type: str, variables: str, settings: str) -> dict[str, Environment]:
    cluster = types.add("Cluster", ClusterView.model_json_schema())
    target = types.add("ClusterTarget", ClusterTargetView.model_json_schema())
    meta = types.add("Metadata", MetadataView.model_json_schema())
    member = types.add("Member", MemberView.model_json_schema())
    ordinal = types.add("Ordinal", OrdinalView.model_json_schema())
    overlay = types.add("Overlay", Overlay.model_json_schema())
    base = {"spec": spec_type, "metadata": meta, "overlay": overlay, "settings": settings}
    instance = {**base, "variables": variables}
    placed = {**instance, "members": f"list({member})", "placement": "map(string, int)",
              "previous": "map(string, int)", "eligibleCount": "int", "initCluster": "string",
              "ordinals": f"list({ordinal})", "initialized": "bool", "lifecycle": "map(string, string)"}
    stages = {
        "variables": base,
        "instance": instance,
        "cluster": {**instance, "cluster": cluster},
        "requests": {**instance, "cluster": target},
        "capacity": {**instance, "memberCount": "int", "groupCount": "int"},
        "member": {**instance, "member": member, "memberCount": "int", "placement": "map(string, int)",
                   "initCluster": "string"},
        "placed": placed,
        "template": placed,
        "ordinal": {**placed, "ordinal": ordinal},
        "override": {**placed, "cluster": cluster},
        "platform": {"clusters": "list(string)", "overlay": overlay, "settings": settings, "version": "string"},
    }
    return {name: Environment(types, variables) for name, variables in stages.items()}


_EXPECT = {"imageOverrider": "string", "labelsOverrider": "map(string, string)",
           "annotationsOverrider": "map(string, string)", "plaintext": None}


def _overriders(c: _Compiler, path: PathKey, rule: OverrideRule, template_kinds: set[tuple[str, str]]) -> Overriders:
    """Compile one override rule and check what Karmada would only find out when it applies it."""
    files = {f for f, _ in template_kinds}
    for j, file in enumerate(rule.templates):
        if file not in files:
            c.diagnostics.append(Diagnostic(f"rule {rule.name!r}: {file} is not a template of this pack",
                                            c.doc.location((*path, "templates", j)), "templates"))
    kinds = {k for f, k in template_kinds if not rule.templates or f in rule.templates}
    for kind in rule.kinds:
        if kind not in kinds:
            c.diagnostics.append(Diagnostic(
                f"rule {rule.name!r}: no template{' it names' if rule.templates else ''} renders kind {kind} "
                f"(they render {', '.join(sorted(kinds)) or 'nothing'})", c.doc.location((*path, "kinds")), "kinds"))
    entries = []
    for kind_of in ("imageOverrider", "labelsOverrider", "annotationsOverrider", "plaintext"):
        for j, item in enumerate(getattr(rule, kind_of)):
            where = (*path, kind_of, j)
            static = item.model_dump(exclude={"value"}, exclude_none=True)
            if kind_of == "imageOverrider" and item.predicate is None:
                unsupported = sorted(set(rule.kinds) - set(POD_SPEC))
                if unsupported:
                    c.diagnostics.append(Diagnostic(
                        f"rule {rule.name!r}: an imageOverrider without predicate changes nothing in "
                        f"{', '.join(unsupported)}; Karmada only rewrites the containers of "
                        f"{', '.join(sorted(POD_SPEC))} (add a predicate.path)", c.doc.location(where), kind_of))
            value = None
            if item.value is not None and not (kind_of == "plaintext" and item.operator == "remove"):
                value = c.program("override", (*where, "value"), item.value, rule.name, _EXPECT[kind_of])
            entries.append(CompiledOverrider(kind_of, static, value, c.doc.location(where)))
    when = c.program("override", (*path, "when"), rule.when, rule.name, "bool")
    return Overriders(rule.name, tuple(rule.kinds), tuple(rule.templates), when, tuple(entries), c.doc.location(path))


def _template_kinds(directory: Path, templates: list[TemplateModel]) -> set[tuple[str, str]]:
    """(template file, kind) of every document of the pack's templates."""
    kinds: set[tuple[str, str]] = set()
    for t in templates:
        path = directory / t.file
        if path.exists():
            kinds.update((t.file, str(d.data.get("kind"))) for d in load_file(path) if isinstance(d.data, dict))
    return kinds


def _input_kind(directory: Path, doc: SourceDoc, kind: InputKind) -> tuple[type[BaseModel], dict[str, Any], list[Path]]:
    """The model validating the pack's input kind, the JSON Schema of its spec, and the files they come from."""
    where = doc.location(("spec", "input"))
    if kind.schema_ is None:
        builtin = INPUT_KINDS.get((kind.apiVersion, kind.kind))
        if builtin is None:
            raise InputError([Diagnostic(f"{kind.kind} ({kind.apiVersion}) is not built in; name the CRD that "
                                         "defines it in spec.input.schema", where, "spec.input")])
        spec_model = builtin.model_fields["spec"].annotation
        assert isinstance(spec_model, type)
        assert issubclass(spec_model, BaseModel)
        return builtin, spec_model.model_json_schema(), []
    path = directory / kind.schema_
    docs = load_file(path) if path.exists() else []
    if len(docs) != 1:
        raise InputError([Diagnostic(f"{kind.schema_}: expected one CustomResourceDefinition", where,
                                     "spec.input.schema")])
    crd = docs[0]
    at: PathKey = ()
    try:
        schema, at = crd_schema(crd.data, kind.apiVersion, kind.kind)
        model = input_model(kind.apiVersion, kind.kind, schema)
    except SchemaError as exc:
        bad = exc.path or at
        raise InputError([Diagnostic(str(exc), crd.location(bad), format_path(bad))]) from None
    except PydanticSchemaError as exc:  # check_schema admits what pydantic can build; this is the last guard
        raise InputError([Diagnostic(f"unsupported schema: {str(exc).strip().splitlines()[-1]}", crd.location(at),
                                     format_path(at))]) from None
    return model, schema["properties"]["spec"], [path]


def _templates(c: _Compiler, directory: Path, file: str, where: PathKey, stage: str, what: str,
               digest: Any) -> list[Template]:
    """The compiled documents of one template file (none, with a diagnostic, when it is missing)."""
    path = directory / file
    if not path.exists():
        c.diagnostics.append(Diagnostic(f"{what} file {file} not found", c.doc.location((*where, "file")), "file"))
        return []
    try:
        digest.update(read_input(path))
        docs = load_file(path)
    except InputError as exc:
        c.diagnostics.extend(exc.diagnostics)
        return []
    out = []
    for tdoc in docs:
        problems = object_problems(tdoc)
        c.diagnostics.extend(problems)
        if not problems:
            out.append(Template(tdoc, c.envs[stage], f"{what} {file}", c.diagnostics))
    return out


def object_problems(doc: SourceDoc) -> list[Diagnostic]:
    """Why a template document can't render a Kubernetes object: it must be a mapping with a literal
    ``apiVersion`` and ``kind`` (override rules and Karmada policies select objects by them) and a ``metadata``
    mapping with a ``name`` (a literal or a CEL ``${...}``)."""
    data = doc.data
    if not isinstance(data, dict):
        return [Diagnostic("a template document must be a Kubernetes object (a mapping)", doc.location())]
    problems = []
    for key in ("apiVersion", "kind"):
        value = data.get(key)
        if not isinstance(value, str) or not value or "${" in value:
            got = "it is missing" if value is None else f"got {value!r}"
            problems.append(Diagnostic(f"a template object needs a literal {key} ({got})", doc.location((key,)),
                                       key))
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        got = "it is missing" if meta is None else "it is not a mapping"
        problems.append(Diagnostic(f"a template object needs metadata with a name ({got})",
                                   doc.location(("metadata",)), "metadata"))
    elif not isinstance(meta.get("name"), str) or not meta["name"]:
        problems.append(Diagnostic("a template object needs metadata.name (a string or ${...})",
                                   doc.location(("metadata", "name")), "metadata.name"))
    return problems


def _lifecycle(c: _Compiler, spec: Any) -> CompiledLifecycle:
    """Compile ``lifecycle``: its ``version`` at the instance stage (a string), and check that ``image`` names a
    string variable and ``featureCompatibilityVersion.setting`` a string setting of the pack."""
    life, at = spec.lifecycle, ("spec", "lifecycle")
    version = c.program("instance", (*at, "version"), life.version, "lifecycle.version", "string")
    types = {v.name: v.type.replace(" ", "") for v in spec.variables}
    if types.get(life.image) != "string":
        got = f"it is of type {types[life.image]}" if life.image in types else "there is none"
        c.diagnostics.append(Diagnostic(f"lifecycle.image must name a string variable of the pack ({got})",
                                        c.doc.location((*at, "image")), "lifecycle.image"))
    fcv = life.featureCompatibilityVersion
    if fcv is not None:
        setting = next((s for s in spec.settings if s.name == fcv.setting), None)
        if setting is None or setting.type != "string":
            got = f"it is a {setting.type} setting" if setting else "there is none"
            c.diagnostics.append(Diagnostic(
                f"lifecycle.featureCompatibilityVersion.setting must name a string setting of the pack ({got})",
                c.doc.location((*at, "featureCompatibilityVersion", "setting")),
                "lifecycle.featureCompatibilityVersion.setting"))
    return CompiledLifecycle(life.versionPolicy, version, life.image, life.imageField,
                             fcv.setting if fcv else "", fcv.annotation if fcv else "", c.doc.location(at))


def load_pack(directory: Path) -> Pack:
    """Load and compile ``directory/pack.yaml`` and its templates; InputError lists every problem found."""
    pack_file = directory / PACK_FILE
    if not pack_file.is_file():
        raise InputError([Diagnostic(f"not a rule pack: {PACK_FILE} not found", Location(str(directory)))])
    docs = load_file(pack_file)
    if len(docs) != 1:
        raise InputError([Diagnostic("a pack file holds exactly one RulePack document",
                                     docs[1].location() if len(docs) > 1 else Location(str(pack_file)))])
    doc = docs[0]
    model = parse_model(RulePack, doc, "rule pack")
    spec = model.spec
    input_model, spec_schema, schema_files = _input_kind(directory, doc, spec.input)
    types = TypeRegistry(package=f"fedrender.packs.{model.metadata.name.replace('-', '_')}")
    try:
        spec_type = types.add("Spec", spec_schema)
    except (SchemaTypeError, TypeError) as exc:  # TypeError: the descriptor pool refused the generated file
        raise InputError([Diagnostic(f"the schema of {spec.input.kind} has no CEL type: {exc}",
                                     doc.location(("spec", "input")), "spec.input")]) from None
    declared: dict[str, Any] = {}
    problems = []
    for i, var in enumerate(spec.variables):
        try:
            declared[var.name] = variable_schema(var.type)
        except ValueError as exc:
            problems.append(Diagnostic(str(exc), doc.location(("spec", "variables", i, "type")), "type"))
    seen: set[str] = set()
    for i, setting in enumerate(spec.settings):
        if setting.name in seen:
            problems.append(Diagnostic(f"setting {setting.name!r} is declared twice",
                                       doc.location(("spec", "settings", i, "name")), "name"))
        seen.add(setting.name)
    if problems:
        raise InputError(problems)
    variables_type = types.add("Variables", {"type": "object", "properties": declared})
    settings_type = types.add("Settings", pack_settings.schema(spec.settings))
    c = _Compiler(doc, _environments(types, spec_type, variables_type, settings_type))
    pack = Pack(model.metadata.name, model.metadata.version, directory, "", input_model,
                spec.input.apiVersion, spec.input.kind, types, spec_type, variables_type,
                settings=list(spec.settings), settings_type=settings_type)
    pack.source = doc.location(("spec", "input", "kind"))
    pack.member_ports = list(spec.memberPorts)
    if spec.lifecycle.claimGrowth:
        pack.claim_growth = doc.location(("spec", "lifecycle", "claimGrowth"))
    pack.variables = [(var.name, c.program("variables", ("spec", "variables", i, "expression"), var.expression,
                                           f"variables.{var.name}", var.type)) for i, var in enumerate(spec.variables)]
    base: PathKey = ("spec",)
    for i, v in enumerate(spec.validations):
        pack.validations.append(c.rule("instance", (*base, "validations", i), v, "bool"))
    sched = spec.scheduling
    sp: PathKey = (*base, "scheduling")
    for i, f in enumerate(sched.filters):
        pack.filters.append(c.rule("cluster", (*sp, "filters", i), f, "bool"))
    for i, s in enumerate(sched.scores):
        pack.scores.append(c.rule("cluster", (*sp, "scores", i), s, "int"))
    for i, ch in enumerate(sched.checks):
        pack.checks.append(c.rule("placed", (*sp, "checks", i), ch, "bool"))
    pack.member_count = c.program("instance", (*sp, "memberCount", "expression"), sched.memberCount.expression,
                                  "memberCount", "int")
    pack.member_count_path = sched.memberCount.fieldPath
    pack.member_requests, by_cluster = c.requests((*sp, "memberRequests"), sched.memberRequests, "memberRequests")
    pack.member_init_requests, init_by_cluster = c.requests((*sp, "memberInitRequests"), sched.memberInitRequests,
                                                            "memberInitRequests")
    pack.requests_by_cluster = by_cluster or init_by_cluster
    if sched.clusterTolerations is not None:
        pack.cluster_tolerations = c.program("instance", (*sp, "clusterTolerations"), sched.clusterTolerations,
                                             "clusterTolerations")
    pack.weight = c.program("cluster", (*sp, "weight"), sched.weight, "weight", "int")
    if "memberLimit" in sched.model_fields_set:
        lp: PathKey = (*sp, "memberLimit")
        pack.member_limit = (c.program("cluster", (*lp, "expression"), sched.memberLimit.expression, "memberLimit",
                                       "int"),
                             c.program("cluster", (*lp, "reason"), sched.memberLimit.reason, "memberLimit", "string"))
    pack.arbiter = c.program("capacity", (*sp, "arbiter"), sched.arbiter, "arbiter", "bool")
    pack.spread_constraints = c.program("instance", (*sp, "spreadConstraints"), sched.spreadConstraints,
                                        "spreadConstraints")
    pack.group_caps = [(g.groupBy, c.program("capacity", (*sp, "groupCaps", i, "maxMembers"), g.maxMembers,
                                             f"groupCaps[{g.groupBy}]", "int"))
                       for i, g in enumerate(sched.groupCaps)]
    rp: PathKey = (*base, "roles")
    pack.votes = c.program("member", (*rp, "votes"), spec.roles.votes, "votes", "int")
    pack.priority = c.program("member", (*rp, "priority"), spec.roles.priority, "priority", "int")
    pack.tags = c.program("member", (*rp, "tags"), spec.roles.tags, "tags")
    pack.references = [(r.kind, c.program("instance", (*base, "references", i, "name"), r.name, "references",
                                          "string")) for i, r in enumerate(spec.references)]
    template_kinds = _template_kinds(directory, spec.templates)
    for i, o in enumerate(spec.overrides):
        pack.overrides.append(_overriders(c, (*base, "overrides", i), o, template_kinds))
    digest = hashlib.sha256(read_input(pack_file))
    for schema_file in schema_files:
        digest.update(read_input(schema_file))
    for i, t in enumerate(spec.templates):
        stage = "ordinal" if t.forEach == "ordinal" else "template"
        include = c.program("template", (*base, "templates", i, "includeWhen"), t.includeWhen, t.file, "bool")
        for template in _templates(c, directory, t.file, (*base, "templates", i), stage, "template", digest):
            pack.templates.append(TemplateSpec(t.file, template, t.propagation, t.forEach, t.stateful, include))
    for i, pt in enumerate(spec.platform):
        for template in _templates(c, directory, pt.file, (*base, "platform", i), "platform", "platform", digest):
            pack.platform.append((pt.target, template))
    for i, pc in enumerate(spec.platformChecks):
        pack.platform_checks.append(c.rule("platform", (*base, "platformChecks", i), pc, "bool"))
    if spec.lifecycle.versions:
        pack.lifecycle = _lifecycle(c, spec)
    if c.diagnostics:
        raise InputError(sorted(c.diagnostics, key=Diagnostic.sort_key))
    pack.digest = digest.hexdigest()
    return pack
