"""Quantities where they enter (issue 13, part 2): every place an amount of CPU, memory or storage comes from an
input takes exactly what Kubernetes takes, and refuses the rest at its file:line:col with a fix that is itself
right.

Generated strings are judged by an oracle written apart from fedrender's checks: Kubernetes' quantity grammar
(``go_accepts``, a port of k8s.io/apimachinery/pkg/api/resource/quantity.go), then the rules the API server and
fedrender apply to container resources and volume sizes: no negative amount, memory and storage in whole bytes and
never counted in thousandths (``512m`` is half a byte: ``512Mi`` mistyped), a volume above 0, no request above its
limit."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from fedrender.models.diagnostics import InputError
from fedrender.models.mongodb import MultiCloudMongoDB
from fedrender.models.overlay import Overlay
from fedrender.models.parse import parse_model
from fedrender.models.quantity import QuantityError, parse_quantity
from fedrender.models.resources import ResourceRequirements, container_problems
from fedrender.models.source import load_text
from tests.conftest import ROOT
from tests.refusal import mongodb, sandbox
from tests.sandbox import picture
from tests.test_quantity import go_accepts

PURE = settings(deadline=None, max_examples=500)
RENDERS = settings(deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = ["", "", "n", "u", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti", "gi", "mi", "ki", "GB", "MiB", "Gib", "i",
            "e3", "e-3", "E2"]
numbers = st.one_of(st.integers(0, 5000).map(str), st.decimals(0, 100, places=3).map(str),
                    st.sampled_from(["0", ".5", "1.", "0.0", "00", "1.5.2"]))
quantities = st.one_of(
    st.builds(lambda sign, number, space, suffix: f"{sign}{number}{space}{suffix}",
              st.sampled_from(["", "", "", "-", "+"]), numbers, st.sampled_from(["", "", "", " "]),
              st.sampled_from(SUFFIXES)),
    st.text(alphabet="0123456789.+-eEKMGTimunk ", max_size=6))
FIX = re.compile(r"(?:write|did you mean) '([^']*)'")


def kubernetes_takes(text: str, resource: str) -> bool:
    """Whether ``text`` is an amount of ``resource`` (cpu, memory or a volume's storage) Kubernetes takes as
    written: by its grammar, then by value; and not one of the amounts fedrender refuses on purpose as mistakes
    (bytes in m, u, n; an amount of bytes below 1Mi: ``resources.BARE_BYTES_MIN``)."""
    if not go_accepts(text):
        return False
    try:  # the few spellings Go reads as 0 and fedrender refuses ("Ki"), or exponents Go truncates
        value = parse_quantity(text)
    except QuantityError:
        return False
    if value < 0:
        return False
    if resource in ("memory", "storage"):
        suffix = re.sub(r"^[+-]?[0-9.]*", "", text)
        if value.denominator != 1 or suffix in ("m", "u", "n"):
            return False
        if 0 < value < 2**20:  # fedrender's stricter rule: no memory or volume is smaller than 1Mi
            return False
    return not (resource == "storage" and value == 0)


def check_fixes(message: str, resource: str) -> None:
    """A fix a message spells out is itself an amount Kubernetes takes."""
    for fix in FIX.findall(message):
        if fix[:1].isdigit() or fix[:1] in "+-.":
            assert kubernetes_takes(fix, resource), (message, fix)


def judged(model: type[BaseModel], data: dict[str, Any], path: tuple[str, ...], text: str, resource: str) -> None:
    """``data`` with ``text`` at ``path`` loads if Kubernetes takes it; otherwise one error at that field's line
    says why, with a fix Kubernetes takes."""
    doc = load_text(yaml.safe_dump(data, sort_keys=False), "input.yaml")[0]
    if kubernetes_takes(text, resource):
        parse_model(model, doc, model.__name__)
        return
    with pytest.raises(InputError) as refused:
        parse_model(model, doc, model.__name__)
    [problem] = refused.value.diagnostics
    assert problem.field_path == ".".join(path)
    assert problem.location is not None
    assert problem.location.line == doc.location(path).line
    check_fixes(problem.message, resource)


MONGODB_PLACES = [
    (("resource", "requests", "memory"), "memory"), (("resource", "limits", "cpu"), "cpu"),
    (("export", "resource", "requests", "memory"), "memory"), (("export", "resource", "limits", "cpu"), "cpu"),
    (("storage", "storageSize"), "storage"),
]


def nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        out = {part: out}
    return out


@PURE
@given(place=st.sampled_from(MONGODB_PLACES), text=quantities)
@example(place=MONGODB_PLACES[0], text="512m")
@example(place=MONGODB_PLACES[0], text="2000m")
@example(place=MONGODB_PLACES[4], text="10gi")
@example(place=MONGODB_PLACES[4], text="-10Gi")
@example(place=MONGODB_PLACES[4], text="0")
def test_every_quantity_of_a_spec_is_taken_as_kubernetes_takes_it(place: tuple[tuple[str, ...], str],
                                                                  text: str) -> None:
    path, resource = place
    judged(MultiCloudMongoDB, mongodb(**nested(path, text)), ("spec", *path), text, resource)


@PURE
@given(text=quantities, resource=st.sampled_from(["cpu", "memory"]), field=st.sampled_from(["requests", "limits"]))
def test_every_quantity_of_an_overlay_tier_is_taken_as_kubernetes_takes_it(text: str, resource: str,
                                                                          field: str) -> None:
    path = ("resourceTiers", "tiers", "small", field, resource)
    judged(Overlay, nested(path, text), path, text, resource)


amounts = st.dictionaries(st.sampled_from(["cpu", "memory"]), st.one_of(quantities, st.integers(-3, 3000)),
                          max_size=2)


@PURE
@given(requests=amounts, limits=amounts)
def test_rules_and_templates_are_held_to_the_rules_of_inputs(requests: dict[str, Any],
                                                             limits: dict[str, Any]) -> None:
    """What a rule or template produces (memberRequests, a rendered container) is checked as an input's
    resources are: the same amounts refused, a request above its limit included."""
    resources = {"requests": requests, "limits": limits}
    try:
        ResourceRequirements.model_validate(resources)
    except ValidationError:
        assert container_problems(resources)
    else:
        assert container_problems(resources) == []


@RENDERS
@given(text=quantities, where=st.sampled_from([("resources", "requests", "memory"), ("storage", "size")]))
@example(text="512m", where=("resources", "requests", "memory"))
@example(text="10gi", where=("storage", "size"))
@example(text="-1Gi", where=("storage", "size"))
@example(text="1Ti", where=("resources", "requests", "memory"))
def test_a_crd_defined_kind_is_held_to_the_same_rules_at_its_own_lines(text: str, where: tuple[str, ...]) -> None:
    """The Redis pack's CRD says only int-or-string: its amounts are judged when memberRequests and templates pass
    them on, and reported at the spec's line."""
    redis = yaml.safe_load((ROOT / "examples" / "specs" / "redis-cache.yaml").read_text())
    if where[0] == "resources":
        redis["spec"]["resources"] = {"requests": {"memory": text}}
    else:
        redis["spec"]["storage"] = {"size": text}
    resource = "memory" if where[0] == "resources" else "storage"
    with sandbox() as box:
        spec = box.write("redis.yaml", redis)
        before = picture(box.root)
        result = box.render(spec)
        if kubernetes_takes(text, resource):  # rendered, or too big for any cluster: never refused as an amount
            assert result.exit_code == 0 or "has no room for a member" in result.stderr, (text, result.stderr)
            assert f"spec.{'.'.join(where)}: " not in result.stderr
            return
        box.assert_refused(result, before, spec, f"spec.{'.'.join(where)}: ")
        check_fixes(result.stderr, resource)


@pytest.mark.parametrize(("text", "fix"), [
    ("512m", "'512m' of memory is 0.512 bytes (the suffix m means thousandths); write '512Mi' for mebibytes"),
    ("2000m", "'2000m' of memory is 2 bytes (the suffix m means thousandths); write '2000Mi' for mebibytes"),
    ("1024u", "(the suffix u means millionths); write '1024Mi'"),
    ("10gi", "'10gi' is not a valid quantity; write '10Gi'"),
    ("-1Gi", "memory can't be negative ('-1Gi'); did you mean '1Gi'?"),
    ("1.5", "'1.5' of memory is not a whole number of bytes; write e.g. '1.5Mi'"),
    ("512", "'512' of memory is 512 bytes (an amount without a suffix counts bytes); write '512Mi'"),
    (512, "'512' of memory is 512 bytes (an amount without a suffix counts bytes); write '512Mi'"),
    ("1Ki", "'1Ki' of memory is 1024 bytes (nothing runs in less than 1Mi); write '1Mi'"),
    ("64k", "'64k' of memory is 64000 bytes (nothing runs in less than 1Mi); write '64M'"),
    ("1e3", "'1e3' of memory is 1000 bytes (nothing runs in less than 1Mi); write '1000Mi'"),
])
def test_memory_mistakes_are_refused_with_the_fix(text: str | int, fix: str) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(resource={"requests": {"memory": text}}))
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, "spec.resource.requests.memory: ")
        assert fix in result.stderr


@pytest.mark.parametrize(("value", "fix"), [(10, "'10Gi'"), (10737418240, "'10737418240'"), (0, "'10Gi'")])
def test_an_integer_storage_size_is_refused_as_the_crd_declares_a_string(value: int, fix: str) -> None:
    """FedState's CRD declares storageSize ``type: string``: the API server refuses ``storageSize: 10``, and 10
    would be 10 bytes (reference/fedstate/middleware.fedstate.io_multicloudmongodbs.yaml)."""
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(storage={"storageSize": value}))
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, "spec.storage.storageSize: ")
        assert f"{value} is not a string" in result.stderr
        assert f"write {fix}" in result.stderr
