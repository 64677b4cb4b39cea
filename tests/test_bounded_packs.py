"""Bounded loading of rule packs, CEL and placement (issue 10, section 3).

Malformed CRD schemas, pack names, template objects and placeholders are located errors in ``rules check``
and ``render``; CEL expressions that grow values exponentially are refused when they compile; values nested
deeper than CEL messages can hold are refused when they load; placement stays linear in the members of the
state. Generated inputs check the kinds, not only the examples.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fedrender.cel.engine import CompileError, Environment, Expr
from fedrender.cel.growth import MAX_UNITS, growth
from fedrender.cel.template import Template
from fedrender.cel.types import SchemaTypeError, TypeRegistry
from fedrender.models.diagnostics import Diagnostic
from fedrender.models.dynamic import SchemaError, check_schema, input_model
from fedrender.models.rulepack import PackMetadata
from fedrender.models.source import MAX_VALUE_DEPTH, load_text
from fedrender.scheduler import placement
from fedrender.scheduler.placement import Candidate, Slot, place
from tests.conftest import CLUSTERS, ROOT, run, tree

REDIS = ROOT / "rules" / "redis"
SPEC = ROOT / "examples" / "specs" / "fedstate-readme-sample.yaml"
IMAGE_LINE = "                image:\n"


def _edit(file: str, old: str, new: str, at: tuple[str, str] | None = None) -> Callable[[Path], tuple[Path, str]]:
    """A mutation of the Redis pack: replace ``old`` by ``new`` in ``file``. Returns the file the error must
    point at and a text its line holds (``at``: another file and text; default: ``file`` and ``new``'s first
    line)."""
    def apply(pack: Path) -> tuple[Path, str]:
        path = pack / file
        text = path.read_text()
        assert old in text, (file, old)
        path.write_text(text.replace(old, new, 1))
        if at is not None:
            return pack / at[0], at[1]
        return path, new.strip("\n").splitlines()[0].strip()
    return apply


_PULL = "imagePullPolicy: {type: string, enum: [Always, IfNotPresent, Never]}"
_DOUBLING = "".join(f"cel.bind(v{i}, " for i in range(20)) + "'ab'" + "".join(f", v{i} + v{i})" for i in range(20))
_CONFIGMAP = "templates/configmap.yaml"
MUTATIONS: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "bad-pattern": _edit("crd.yaml", IMAGE_LINE, IMAGE_LINE + "                  pattern: '[unclosed'\n",
                         at=("crd.yaml", "pattern: '[unclosed'")),
    "items-not-a-mapping": _edit("crd.yaml", _PULL, "imagePullPolicy: {type: array, items: [a, b]}"),
    "properties-a-list": _edit("crd.yaml", _PULL, "imagePullPolicy: {type: object, properties: [a, b]}"),
    "schema-a-string": _edit("crd.yaml", _PULL, "imagePullPolicy: just-a-string"),
    "enum-of-mappings": _edit("crd.yaml", _PULL, "imagePullPolicy: {type: string, enum: [{a: 1}]}"),
    "enum-empty": _edit("crd.yaml", _PULL, "imagePullPolicy: {type: string, enum: []}"),
    "required-not-a-list": _edit("crd.yaml", "required: [replicas]", "required: {replicas: true}"),
    "property-not-an-identifier": _edit("crd.yaml", "imagePullPolicy: {type: string",
                                        "image-pull-policy: {type: string", at=("pack.yaml", "  input:")),
    "pack-name-starts-with-a-digit": _edit("pack.yaml", "  name: redis\n", "  name: 9redis\n"),
    "template-without-kind": _edit(_CONFIGMAP, "kind: ConfigMap\n", "kinds: ConfigMap\n",
                                   at=(_CONFIGMAP, "apiVersion: v1")),
    "template-kind-from-cel": _edit(_CONFIGMAP, "kind: ConfigMap\n", "kind: ${'ConfigMap'}\n"),
    "template-without-metadata": _edit(_CONFIGMAP, "metadata:", "metadatum:", at=(_CONFIGMAP, "apiVersion: v1")),
    "unterminated-placeholder": _edit(_CONFIGMAP, "kind: ConfigMap\n",
                                      "kind: ConfigMap\nextra: \"${metadata.name + '}'\"\n",
                                      at=(_CONFIGMAP, "extra: ")),
    "cel-bind-doubling": _edit("pack.yaml", "\"has(spec.image) ? spec.image : 'docker.io/library/redis:7.4'\"",
                               f"\"{_DOUBLING}\""),
}


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_a_malformed_pack_is_a_located_error(tmp_path: Path, mutation: str) -> None:
    pack = tmp_path / "rules" / "redis"
    shutil.copytree(REDIS, pack)
    path, line_text = MUTATIONS[mutation](pack)
    line = _line_of(path, line_text)
    checked = run(["rules", "check", str(pack)])
    assert checked.exit_code == 1, checked.output
    assert re.search(rf"^{re.escape(str(path))}:{line}:\d+: error: ", checked.stderr, re.M), checked.stderr
    out = tmp_path / "out"
    spec = pack / "testdata"
    rendered = run(["render", "--specs", str(REDIS.parent.parent / "examples" / "specs" / "redis-cache.yaml"),
                    "--clusters", str(CLUSTERS), "--rules", str(pack), "--out", str(out)])
    assert rendered.exit_code == 1, rendered.output
    assert f"{path}:{line}:" in rendered.stderr
    assert not out.exists()
    assert spec.exists()


def test_two_packs_for_one_kind_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REDIS, rules / "redis")
    shutil.copytree(REDIS, rules / "redis-copy")
    copy = rules / "redis-copy" / "pack.yaml"
    copy.write_text(copy.read_text().replace("  name: redis\n", "  name: redis-copy\n", 1))
    line = _line_of(copy, "    kind: MultiCloudRedis")
    result = run(["rules", "check", str(rules)])
    assert result.exit_code == 1
    assert f"{copy}:{line}:5: error: spec.input.kind: pack 'redis-copy' renders MultiCloudRedis" in result.stderr
    assert f"as pack 'redis' ({rules / 'redis' / 'pack.yaml'}:{line}:5)" in result.stderr


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True))
def test_every_pack_name_the_model_accepts_names_cel_types(name: str) -> None:
    try:
        PackMetadata(name=name, version="1")
    except ValidationError:
        return
    registry = TypeRegistry(package=f"fedrender.packs.{name.replace('-', '_')}")
    assert registry.add("Spec", {"type": "object", "properties": {"a": {"type": "string"}}}).endswith(".Spec")


_KEYS = ["type", "properties", "items", "additionalProperties", "required", "enum", "pattern", "minimum",
         "maxLength", "x-kubernetes-int-or-string", "default"]
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(
    ["object", "array", "string", "integer", "number", "boolean", "x", "[", "a+", "(?P<", "^[a-z]+$", "-1"]))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from([*_KEYS, "a", "b-c", "spec"]), inner, max_size=4)),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=5))
@example({"type": "string", "enum": [[1]]})
@example({"type": "string", "enum": []})
@example({"properties": None, "required": None})
@example({"type": []})
def test_any_schema_is_converted_or_refused_with_its_path(spec: dict[str, Any]) -> None:
    """Arbitrary (mostly malformed) schemas: converted, or refused with SchemaError/SchemaTypeError, never a crash."""
    schema = {"type": "object", "properties": {"spec": spec}}
    problem: SchemaError | None = None
    try:
        check_schema(schema)
    except SchemaError as exc:
        problem = exc
    if problem is not None:
        assert problem.path[:2] == ("properties", "spec")
        return
    try:
        input_model("x.io/v1", "Thing", schema)
        TypeRegistry(package="fedrender.packs.t").add("Spec", spec)
    except SchemaTypeError:
        pass


ENV = Environment(TypeRegistry(), {"x": "string", "l": "list(string)"})


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(0, 24), copies=st.integers(2, 3), seed=st.sampled_from(["'ab'", "x", "[x]", "l"]))
def test_values_that_grow_exponentially_are_refused_when_compiled(depth: int, copies: int, seed: str) -> None:
    text = seed
    for i in range(depth):
        text = f"cel.bind(v{i}, {text}, " + " + ".join([f"v{i}"] * copies) + ")"
    units = growth(ENV._env.compile(text).serialize()).units
    assert units >= copies**depth
    if units > MAX_UNITS:
        with pytest.raises(CompileError, match="times the size of its inputs"):
            ENV.compile(Expr(text))
    else:
        ENV.compile(Expr(text)).eval({"x": "y", "l": ["z"]})


def test_replace_chains_are_refused() -> None:
    text = "x" + ".replace('a', 'aa')" * 16
    with pytest.raises(CompileError) as caught:
        ENV.compile(Expr(text, "p.yaml", 3, 7, None, "r"))
    assert str(caught.value).startswith("p.yaml:3:")


@settings(max_examples=100, deadline=None)
@given(before=st.text("ab$", max_size=8), inside=st.text("abx+'", max_size=8))
def test_an_unterminated_placeholder_is_never_text(before: str, inside: str) -> None:
    text = f"{before}${{{inside}"
    source = f"kind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  v: |-\n    {text}\n"
    problems: list[Diagnostic] = []
    template = Template(load_text(source, "t.yaml")[0], Environment(TypeRegistry(), {"x": "string"}), "t", problems)
    if "${" in text.replace("$${", ""):
        assert any("unterminated ${" in p.message and p.location and p.location.line in (4, 5) for p in problems)
    else:
        assert problems == []
        assert template.render({"x": "y"})["data"]["v"] == text.replace("$${", "${")


def test_overlay_nested_deeper_than_cel_messages_is_located(tmp_path: Path) -> None:
    def nested(depth: int) -> str:
        value = "1"
        for _ in range(depth):
            value = "{a: " + value + "}"
        return value

    overlay = tmp_path / "overlay"
    overlay.mkdir()
    args = ["explain", "--specs", str(SPEC), "--clusters", str(CLUSTERS), "--overlay", str(overlay)]
    (overlay / "v.yaml").write_text(f"values:\n  x: {nested(MAX_VALUE_DEPTH - 2)}\n")
    assert run(args).exit_code == 0
    (overlay / "v.yaml").write_text(f"values:\n  x: {nested(MAX_VALUE_DEPTH + 10)}\n")
    result = run(args)
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(overlay / 'v.yaml'))}:2:\d+: error: values\.x(\.a)+: the overlay is nested "
                     f"deeper than {MAX_VALUE_DEPTH} levels", result.stderr)


def test_spec_nested_deeper_than_cel_messages_is_located(tmp_path: Path, ) -> None:
    spec = tmp_path / "spec.yaml"
    value = "1"
    for _ in range(MAX_VALUE_DEPTH + 5):
        value = "[" + value + "]"
    spec.write_text(SPEC.read_text() + f"status: {{deep: {value}}}\n")
    line = spec.read_text().count("\n")
    out = tmp_path / "out"
    result = run(["render", "--specs", str(spec), "--clusters", str(CLUSTERS), "--out", str(out)])
    assert result.exit_code == 1
    assert f"{spec}:{line}:" in result.stderr
    assert not out.exists() or tree(out) == {}


def _counted_place(members: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Calls of Candidate.group (the scheduler's unit of work) to scale a state of ``members`` down to 3."""
    calls = 0
    group = Candidate.group

    def counting(self: Candidate, level: str) -> str:
        nonlocal calls
        calls += 1
        return group(self, level)

    monkeypatch.setattr(placement.Candidate, "group", counting)
    clusters = [Candidate(f"c{i}", True, fits=10**6, groups={"region": f"r{i % 3}"}) for i in range(6)]
    previous = [Slot(i, f"c{i % 6}", i // 6) for i in range(members)]
    result = place(3, clusters, {"cluster": 2, "region": 2}, previous=previous)
    assert len(result.slots) == 3
    assert len(result.removed) == members - 3
    monkeypatch.setattr(placement.Candidate, "group", group)
    return calls


def test_placement_is_linear_in_the_members_of_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = _counted_place(1000, monkeypatch), _counted_place(4000, monkeypatch)
    assert large <= 4.4 * small, (small, large)


def test_placement_keeps_members_without_comparing_them_pairwise() -> None:
    compared = 0

    class CountingSlot(Slot):
        def __eq__(self, other: object) -> bool:
            nonlocal compared
            compared += 1
            return super().__eq__(other)

        __hash__ = Slot.__hash__

    clusters = [Candidate(f"c{i}", i != 0, reason="is not Ready", fits=10**6) for i in range(5)]
    previous = [CountingSlot(i, f"c{i % 5}", i // 5) for i in range(3000)]
    result = place(3000, clusters, 10**6, previous=previous)
    assert len(result.moves) == 600
    assert compared <= 3000
