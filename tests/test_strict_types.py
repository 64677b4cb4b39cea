"""Inputs are as strict as the API server: no coercion of "3" to 3 or "false" to false, affinity weights 1-100,
Kubernetes label syntax, container resources Kubernetes accepts. Each refusal is a located error with the fix."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fedrender.models.cluster import Cluster
from fedrender.models.mongodb import MultiCloudMongoDB
from fedrender.models.overlay import Overlay
from fedrender.models.quantity import parse_quantity
from fedrender.models.resources import BARE_BYTES_MIN, ResourceRequirements
from fedrender.models.ruletests import PackTests
from fedrender.models.state import State
from tests.conftest import CLUSTERS, ROOT, run
from tests.refusal import mongodb, sandbox
from tests.sandbox import picture

CLI = settings(deadline=None, max_examples=8, suppress_health_check=[HealthCheck.too_slow])
PURE = settings(deadline=None, max_examples=200)

# (field path in spec, value) the CRD's types reject; the examples first.
MISTYPED = [
    (("replicaset",), "3"), (("replicaset",), True), (("replicaset",), 3.0), (("export", "enable"), "yes"),
    (("config", "arbiter"), "false"), (("spreadConstraints", "spreadConstraints", 0, "minGroups"), "2"),
    (("spreadConstraints", "spreadConstraints", 0, "maxGroups"), 2.5), (("storage", "storageClass"), 1),
    (("imageSetting", "image"), 7), (("scheduler", "schedulerMode"), 1), (("config", "configSet", "k"), 1),
]


def _set(spec: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = yaml.safe_load(yaml.safe_dump(spec))
    node = out
    for part, following in itertools.pairwise(path):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
        elif part not in node:
            node[part] = [] if isinstance(following, int) else {}
        node = node[part]
    node[path[-1]] = value
    return out


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


@pytest.mark.parametrize(("path", "value"), MISTYPED)
def test_mistyped_fields_are_refused_at_their_line(path: tuple[str | int, ...], value: Any) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", {**mongodb(), "spec": _set(mongodb()["spec"], path, value)})
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, f"spec{_dotted(path)}: ")


def test_the_refusals_spell_out_the_fix() -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(replicaset="3", export={"enable": "yes"}, config={"arbiter": "false"}))
        result = box.render(spec)
        assert "spec.replicaset: expected an integer, got a string '3'; write 3 without quotes" in result.stderr
        assert "spec.export.enable: expected true or false, got a string 'yes'; write true without quotes" \
            in result.stderr
        assert "spec.config.arbiter: expected true or false, got a string 'false'; write false" in result.stderr


# Values of the wrong YAML type for an integer / boolean field.
not_int = st.one_of(st.integers(-10, 10**6).map(str), st.booleans(), st.floats(allow_nan=False), st.just(None),
                    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=2))  # int64: the loader refuses wider
not_bool = st.one_of(st.sampled_from(["true", "false", "yes", "no", "on", "off", "True", ""]),
                     st.integers(0, 1), st.floats(0, 1))


@CLI
@given(value=not_int)
def test_anything_but_an_integer_is_refused_as_replicaset(value: Any) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(replicaset=value))
        before = picture(box.root)
        box.assert_refused(box.render(spec), before, spec, "spec.replicaset: ")


@PURE
@given(value=not_int.filter(lambda v: v is not None), field=st.sampled_from(["replicaset", "minGroups", "weight"]))
def test_the_models_coerce_nothing_to_an_integer(value: Any, field: str) -> None:
    spec = {"replicaset": value} if field == "replicaset" else (
        {"spreadConstraints": {"spreadConstraints": [{"minGroups": value}]}} if field == "minGroups" else
        {"scheduler": {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": value, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}}})
    with pytest.raises(ValidationError):
        MultiCloudMongoDB.model_validate(mongodb(**spec))


@PURE
@given(value=not_bool, field=st.sampled_from([("export", "enable"), ("config", "arbiter"),
                                              ("spreadConstraints", "allowDynamicScheduler")]))
def test_the_models_coerce_nothing_to_a_boolean(value: Any, field: tuple[str, str]) -> None:
    with pytest.raises(ValidationError):
        MultiCloudMongoDB.model_validate(mongodb(**{field[0]: {field[1]: value}}))


def _weighted(weight: int) -> dict[str, Any]:
    return {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": weight, "preference": {"matchExpressions": [{"key": "disk", "operator": "In",
                                                                "values": ["ssd"]}]}}]}}}


@PURE
@given(weight=st.integers(-(2**31), 2**31))
def test_affinity_weights_are_1_to_100(weight: int) -> None:
    if 1 <= weight <= 100:
        MultiCloudMongoDB.model_validate(mongodb(scheduler=_weighted(weight)))
    else:
        with pytest.raises(ValidationError, match="weight must be 1-100"):
            MultiCloudMongoDB.model_validate(mongodb(scheduler=_weighted(weight)))


def test_an_affinity_weight_out_of_range_is_refused_at_its_line() -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(scheduler=_weighted(0)))
        before = picture(box.root)
        box.assert_refused(box.render(spec), before, spec, "spec.scheduler.affinity.nodeAffinity."
                           "preferredDuringSchedulingIgnoredDuringExecution[0].weight: weight must be 1-100")


@pytest.mark.parametrize(("resources", "field", "fix"), [
    ({"requests": {"cpu": "-1"}}, "requests.cpu", "cpu can't be negative ('-1'); did you mean '1'?"),
    ({"limits": {"memory": "-1Gi"}}, "limits.memory", "memory can't be negative ('-1Gi'); did you mean '1Gi'?"),
    ({"limits": {"memory": "2000m"}}, "limits.memory", "'2000m' of memory is 2 bytes (the suffix m means "
                                                       "thousandths); write '2000Mi' for mebibytes"),
    ({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}, "requests.cpu", "lower the request or raise limits.cpu"),
    ({"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}, "requests.memory", "above its limit"),
    ({"requests": {"memory": "512m"}}, "requests.memory", "write '512Mi' for mebibytes"),
    ({"limits": {"ephemeral-storage": "1.5"}}, "limits.ephemeral-storage", "not a whole number of bytes"),
    ({"requests": {"cpu": 0.5}}, "requests.cpu", "write an integer or a string in quotes: '0.5'"),
    ({"requests": {"cpu": "1 core"}}, "requests.cpu", "invalid quantity"),
    ({"requests": {"gpu": "1"}}, "requests.gpu", "is not a container resource"),
])
def test_container_resources_kubernetes_refuses_are_located(resources: dict[str, Any], field: str, fix: str) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(resource=resources))
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, f"spec.resource.{field}: ")
        assert fix in result.stderr


@pytest.mark.parametrize(("size", "fix"), [
    ("10gi", "write '10Gi'"), ("10GB", "write '10G'"), ("1 Gi", "write '1Gi'"), ("0", "a size above 0"),
    ("-1Gi", "can't be negative ('-1Gi'); did you mean '1Gi'?"),
    ("512m", "write '512Mi'"), ("", "invalid quantity ''"), (True, "not a quantity"),
])
def test_storage_size_must_be_a_positive_quantity(size: Any, fix: str) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(storage={"storageSize": size}))
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, "spec.storage.storageSize: ")
        assert fix in result.stderr


quantity = st.builds(lambda n, s: f"{n}{s}", st.integers(0, 4096), st.sampled_from(["", "Ki", "Mi", "Gi", "k", "M"]))


@PURE
@given(request=quantity, limit=quantity, resource=st.sampled_from(["cpu", "memory", "ephemeral-storage"]))
def test_requests_within_limits_are_accepted_and_above_refused(request: str, limit: str, resource: str) -> None:
    data = {"requests": {resource: request}, "limits": {resource: limit}}
    if resource != "cpu" and any(0 < parse_quantity(q) < BARE_BYTES_MIN for q in (request, limit)):
        with pytest.raises(ValidationError, match="bytes"):
            ResourceRequirements.model_validate(data)
    elif parse_quantity(request) <= parse_quantity(limit):
        ResourceRequirements.model_validate(data)
    else:
        with pytest.raises(ValidationError, match="above its limit"):
            ResourceRequirements.model_validate(data)


OVERLAY_MISTAKES = [
    ({"nodePorts": {"min": "30000"}}, "nodePorts.min: expected an integer, got a string '30000'"),
    ({"nodePorts": {"max": 32767.0}}, "nodePorts.max: expected an integer"),
    ({"labels": {"team": 7}}, "labels.team: expected a string, got an integer 7; quote it"),
    ({"clusters": {"member-eu-1": {"vip": 10}}}, "clusters.member-eu-1.vip: expected a string"),
    ({"resourceTiers": {"tiers": {"small": {"requests": {"memory": "512m"}}}}},
     "resourceTiers.tiers.small.requests.memory: '512m' of memory"),
    ({"storageClasses": {"aws": "GP3"}}, "storageClasses.aws: 'GP3' is not a valid name"),
]


@pytest.mark.parametrize(("overlay", "message"), OVERLAY_MISTAKES)
def test_overlay_mistakes_are_located(overlay: dict[str, Any], message: str) -> None:
    with sandbox() as box:
        file = box.write("overlay/x.yaml", overlay)
        spec = box.write("spec.yaml", mongodb())
        before = picture(box.root)
        result = box.render(spec, "--overlay", str(file.parent))
        box.assert_refused(result, before, file)
        assert message in result.stderr


LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
NAME_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
text = st.text(st.sampled_from("aZ9-_./ :é"), max_size=70)


def _label_key_ok(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    prefix_ok = not slash or (bool(prefix) and len(prefix) <= 253 and all(
        re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", p) and len(p) <= 63 for p in prefix.split(".")))
    return prefix_ok and len(name) <= 63 and NAME_PART.fullmatch(name) is not None


@PURE
@given(key=text, value=text)
def test_overlay_labels_follow_kubernetes_label_syntax(key: str, value: str) -> None:
    valid = _label_key_ok(key) and len(value) <= 63 and LABEL_VALUE.fullmatch(value) is not None
    try:
        Overlay.model_validate({"labels": {key: value}})
    except ValidationError:
        assert not valid
    else:
        assert valid


@CLI
@given(key=text.filter(lambda k: not _label_key_ok(k)))
def test_an_invalid_overlay_label_key_is_refused_at_its_line(key: str) -> None:
    with sandbox() as box:
        file = box.write("overlay/labels.yaml", {"labels": {key: "x"}})
        spec = box.write("spec.yaml", mongodb())
        before = picture(box.root)
        box.assert_refused(box.render(spec, "--overlay", str(file.parent)), before, file, "labels.")


def test_the_cluster_snapshot_stays_lenient_where_kubectl_prints_numbers() -> None:
    cluster = yaml.safe_load(CLUSTERS.read_text())["items"][2]
    cluster["status"]["resourceSummary"]["allocatable"] = {"cpu": 24, "memory": "96Gi", "pods": 110.0}
    assert Cluster.model_validate(cluster).status is not None


def test_the_cluster_snapshot_is_strict_about_types() -> None:
    cluster = yaml.safe_load(CLUSTERS.read_text())["items"][2]
    cluster["spec"]["insecureSkipTLSVerification"] = "false"
    with pytest.raises(ValidationError, match="valid boolean"):
        Cluster.model_validate(cluster)


def test_state_and_pack_tests_are_strict() -> None:
    state = {"schemaVersion": 1, "tool": {"name": "fedrender", "version": "0"}, "rulePacks": {}, "inputs": {},
             "instances": {}, "files": []}
    State.model_validate(state)
    with pytest.raises(ValidationError):
        State.model_validate({**state, "schemaVersion": "1"})
    with pytest.raises(ValidationError):
        PackTests.model_validate({"cases": [{"name": "x", "specs": "", "expect": {"placement": {"a": "1"}}}]})


@pytest.mark.parametrize("sample", sorted((ROOT / "examples" / "specs").glob("*.yaml")))
def test_the_examples_still_render(sample: Path) -> None:
    with sandbox() as box:
        result = box.render(sample, "--overlay", str(ROOT / "overlays" / "dev"))
        assert result.exit_code == 0, result.stderr


def test_every_fedstate_sample_spec_still_validates() -> None:
    samples = list(yaml.safe_load_all((ROOT / "schemas" / "vendor" / "fedstate" / "samples.yaml").read_text()))
    for sample in samples[:3]:
        MultiCloudMongoDB.model_validate(sample)
    result = run(["explain", "--specs", str(ROOT / "examples" / "specs" / "fedstate-readme-sample.yaml"),
                  "--clusters", str(CLUSTERS), "-o", "json"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(("toleration", "field", "message"), [
    ({"key": "a", "operator": "Exists", "value": "b"}, "value", "operator Exists has no value"),
    ({"effect": "NoSchedule"}, "operator", "without key must use operator Exists"),
    ({"key": "a", "value": "b", "effect": "NoSchedule", "tolerationSeconds": 30}, "tolerationSeconds",
     "needs effect NoExecute"),
    ({"key": "bad key", "operator": "Exists"}, "key", "not a valid label key"),
])
def test_tolerations_kubernetes_refuses_are_located(toleration: dict[str, Any], field: str, message: str) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(scheduler={"tolerations": [toleration]}))
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, f"spec.scheduler.tolerations[0].{field}: ")
        assert message in result.stderr


def test_resources_a_crd_built_pack_passes_on_are_refused_where_the_input_writes_them() -> None:
    """The Redis pack's CRD says only int-or-string: the amounts its memberRequests and templates take from the
    spec are checked as Kubernetes checks them, and reported at the spec's line, not the template's."""
    redis = yaml.safe_load((ROOT / "examples" / "specs" / "redis-cache.yaml").read_text())
    redis["spec"]["resources"] = {"requests": {"memory": "512m", "cpu": "2"}, "limits": {"cpu": "1"}}
    with sandbox() as box:
        spec = box.write("redis.yaml", redis)
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, "spec.resources.requests.memory: ")
        assert "write '512Mi' for mebibytes" in result.stderr
        assert "spec.resources.requests.cpu: the cpu request '2' is above its limit '1'" in result.stderr
    redis["spec"]["resources"] = {"requests": {"memory": "512Mi"}}
    redis["spec"]["storage"] = {"size": "10gi"}
    with sandbox() as box:
        spec = box.write("redis.yaml", redis)
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, "spec.storage.size: ")
        assert "write '10Gi'" in result.stderr
        assert "it becomes spec.volumeClaimTemplates[0].spec.resources.requests.storage of StatefulSet" in \
            result.stderr
