"""Render sequences over running StatefulSets (issue 14 §5): no render publishes a change the API server refuses
(``ValidateStatefulSetUpdate``), storage grows through the PersistentVolumeClaims, and what cannot change is
refused at its cause (the spec field, the overlay key, the pack's template) with the way out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.day2.immutable import statefulset_update_problems
from fedrender.models.diagnostics import InputError
from fedrender.models.quantity import parse_quantity
from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import State
from fedrender.pipeline.preview import preview
from fedrender.pipeline.render import Inputs, RenderResult, render
from tests.conftest import ROOT
from tests.topology import cluster_doc

STS = "instances/team/db/statefulset-db.yaml"
MRS = "instances/team/db/mongoreplicaset-db.yaml"


class Sequence:
    """Renders of team/db, each fed the state of the last accepted one."""

    def __init__(self, tmp: Path, clusters: list[dict[str, Any]] | None = None) -> None:
        self.tmp = tmp
        self.clusters = clusters or [cluster_doc(n, r) for n, r in (("a", "r1"), ("b", "r2"), ("c", "r3"))]
        self.state: State | None = None
        self.rules: Path | None = None
        self.count = 0

    def write_spec(self, storage: dict[str, str] | None, members: int) -> Path:
        spec: dict[str, Any] = {"replicaset": members, "imageSetting": {"image": "mongo:8.0"},
                                "resource": {"requests": {"cpu": "1", "memory": "10Gi"}}}
        if storage is not None:
            spec["storage"] = storage
        path = self.tmp / "specs.yaml"
        path.write_text(yaml.safe_dump({"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                        "metadata": {"name": "db", "namespace": "team"}, "spec": spec},
                                       sort_keys=False))
        return path

    def render(self, storage: dict[str, str] | None = None, classes: dict[str, str] | None = None,
               members: int = 3) -> RenderResult:
        """One render; the state moves on only when it is accepted (InputError propagates)."""
        self.count += 1
        specs = self.write_spec(storage, members)
        clusters = self.tmp / "clusters.yaml"
        clusters.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": self.clusters}))
        overlays = []
        if classes is not None:
            overlay = self.tmp / f"overlay-{self.count}"
            overlay.mkdir()
            (overlay / "storage.yaml").write_text(yaml.safe_dump({"storageClasses": classes}))
            overlays.append(overlay)
        result = render(Inputs([specs], clusters, self.rules, overlays), self.state)
        self.state = State.model_validate_json(result.files[STATE_FILE])
        return result


def _claims(result: RenderResult) -> list[dict[str, Any]]:
    return list(yaml.safe_load(result.files[STS])["spec"]["volumeClaimTemplates"])


def _refused(seq: Sequence, **kwargs: Any) -> str:
    with pytest.raises(InputError) as info:
        seq.render(**kwargs)
    return "\n".join(d.render() for d in info.value.diagnostics)


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_storage_size_change_never_alters_volume_claim_templates(tmp_path: Path) -> None:
    seq = Sequence(tmp_path)
    first = seq.render({"storageSize": "10Gi"})
    grown = seq.render({"storageSize": "20Gi"})
    assert _claims(grown) == _claims(first)
    assert _claims(grown)[0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    again = seq.render({"storageSize": "30Gi"})
    assert _claims(again) == _claims(first)


def test_storage_growth_reaches_the_mongoreplicaset_and_the_state(tmp_path: Path) -> None:
    seq = Sequence(tmp_path)
    seq.render({"storageSize": "10Gi"})
    assert seq.state is not None
    assert seq.state.instances["team/db"].workloads["StatefulSet/db"].claims["data"].requested == "10Gi"
    result = seq.render({"storageSize": "20Gi"})
    assert yaml.safe_load(result.files[MRS])["spec"]["storage"] == {"claims": {"data": "20Gi"}}
    claims = seq.state.instances["team/db"].workloads["StatefulSet/db"].claims["data"]
    assert (claims.template, claims.requested) == ("10Gi", "20Gi")
    explained = result.instances[0].explain()
    assert explained["storage"] == [result.instances[0].storage[0]]
    assert explained["storage"][0].startswith("data 10Gi -> 20Gi through the PersistentVolumeClaims")
    assert "volumeClaimTemplates keep 10Gi" in explained["storage"][0]
    same = seq.render({"storageSize": "20Gi"})  # nothing new: the growth is still shown, the files stay
    assert same.files[STS] == result.files[STS]
    assert same.instances[0].storage


def test_a_storage_shrink_is_refused(tmp_path: Path) -> None:
    seq = Sequence(tmp_path)
    seq.render({"storageSize": "10Gi"})
    seq.render({"storageSize": "20Gi"})
    before = seq.state
    for smaller in ("15Gi", "10Gi", "20G"):  # 20G is less than 20Gi
        message = _refused(seq, storage={"storageSize": smaller})
        line = _line(tmp_path / "specs.yaml", "storageSize")
        assert f"specs.yaml:{line}:" in message
        assert "spec.storage.storageSize" in message
        assert "a PersistentVolumeClaim cannot shrink" in message
        assert "ask for 20Gi or more" in message
        assert seq.state is before
    seq.render({"storageSize": "20480Mi"})  # the same size, written differently


def test_a_storage_class_change_in_the_spec_is_refused_at_the_spec(tmp_path: Path) -> None:
    seq = Sequence(tmp_path)
    seq.render({"storageSize": "10Gi", "storageClass": "fast"})
    message = _refused(seq, storage={"storageSize": "10Gi", "storageClass": "slow"})
    line = _line(tmp_path / "specs.yaml", "storageClass")
    assert f"specs.yaml:{line}:" in message
    assert "spec.storage.storageClass" in message
    assert "volumeClaimTemplates[0].spec.storageClassName would change from 'fast' to 'slow'" in message
    assert "add members on the new class and remove the old ones" in message
    assert "create a new instance on the new class" in message
    assert message.count("error:") == 1
    assert "already runs in clusters a, b, c:" in message


def test_an_overlay_storage_class_change_is_refused_at_the_overlay_line(tmp_path: Path) -> None:
    seq = Sequence(tmp_path)
    seq.render({"storageSize": "10Gi"}, classes={"aws": "gp3"})
    message = _refused(seq, storage={"storageSize": "10Gi"}, classes={"aws": "io2", "gcp": "premium-rwo"})
    overlay = tmp_path / f"overlay-{seq.count}" / "storage.yaml"
    assert f"{overlay}:{_line(overlay, 'aws: io2')}:" in message
    assert "storageClasses.aws" in message
    assert "rule 'storage-class-by-provider'" in message
    assert "from 'gp3' to 'io2'" in message
    # Unsetting it is a change too: the spec's line is all there is to point at then.
    assert "from 'gp3' to unset" in _refused(seq, storage={"storageSize": "10Gi"}, classes={"gcp": "x"})


def test_a_new_cluster_may_receive_a_different_class(tmp_path: Path) -> None:
    seq = Sequence(tmp_path)
    seq.render({"storageSize": "10Gi"}, classes={"aws": "gp3"})
    seq.clusters.append(cluster_doc("d", "r4", provider="gcp"))
    result = seq.render({"storageSize": "10Gi"}, classes={"aws": "gp3", "gcp": "premium-rwo"}, members=5)
    assert result.instances[0].placement.get("d", 0) > 0
    classes = {c: seq.state.instances["team/db"].workloads["StatefulSet/db"].clusters[c]["volumeClaimTemplates"][0]
               ["spec"].get("storageClassName") for c in "abcd"} if seq.state else {}
    assert classes == {"a": "gp3", "b": "gp3", "c": "gp3", "d": "premium-rwo"}
    delivered = next(o for o in _delivered(result, "d") if o["kind"] == "StatefulSet")
    assert delivered["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "premium-rwo"


@pytest.mark.parametrize(("old", "new", "field"), [
    ("  serviceName: ${metadata.name}\n", "  serviceName: ${metadata.name + '-x'}\n", "spec.serviceName"),
    ("      app.kubernetes.io/component: data\n  template:", "      app.kubernetes.io/component: db\n  template:",
     "spec.selector.matchLabels"),
    ("  podManagementPolicy: Parallel\n", "", "spec.podManagementPolicy"),
])
def test_a_pack_changing_service_name_or_selector_is_refused(tmp_path: Path, old: str, new: str, field: str) -> None:
    pack = tmp_path / "rules" / "mongodb"
    shutil.copytree(ROOT / "rules" / "mongodb", pack)
    seq = Sequence(tmp_path)
    seq.rules = tmp_path / "rules"
    seq.render({"storageSize": "10Gi"})
    template = pack / "templates" / "statefulset.yaml"
    text = template.read_text()
    assert old in text
    edited = text.replace(old, new)
    if "component: db" in new:  # the pod template's labels must still match the selector
        edited = edited.replace("        app.kubernetes.io/component: data\n",
                                "        app.kubernetes.io/component: db\n")
    template.write_text(edited)
    message = _refused(seq, storage={"storageSize": "10Gi"})
    assert field in message
    assert "the API server refuses it" in message
    assert str(template) in message
    assert "create a new instance (a new name)" in message


def _redis(tmp_path: Path, size: str, state: State | None) -> RenderResult:
    spec = yaml.safe_load((ROOT / "examples" / "specs" / "redis-cache.yaml").read_text())
    spec["spec"]["storage"] = {"size": size}
    (tmp_path / "redis.yaml").write_text(yaml.safe_dump(spec))
    return render(Inputs([tmp_path / "redis.yaml"], ROOT / "rules" / "redis" / "testdata" / "clusters.yaml"), state)


def test_redis_storage_growth_is_refused(tmp_path: Path) -> None:
    first = _redis(tmp_path, "1Gi", None)
    state = State.model_validate_json(first.files[STATE_FILE])
    _redis(tmp_path, "1Gi", state)
    with pytest.raises(InputError) as info:
        _redis(tmp_path, "2Gi", state)
    message = "\n".join(d.render() for d in info.value.diagnostics)
    assert "pack redis does not grow claims (no lifecycle.claimGrowth)" in message
    assert f"redis.yaml:{_line(tmp_path / 'redis.yaml', 'size: 2Gi')}:" in message


STEP = st.fixed_dictionaries({
    "size": st.sampled_from(["10Gi", "15Gi", "20Gi", "20480Mi", "30Gi"]),
    "class": st.sampled_from([None, "fast", "slow"]),
    "overlay": st.sampled_from([None, "gp3", "io2"]),
    "members": st.sampled_from([3, 5]),
    "d": st.booleans(),
})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=2, max_size=4))
def test_every_render_sequence_passes_statefulset_update_validation(tmp_path_factory: pytest.TempPathFactory,
                                                                    steps: list[dict[str, Any]]) -> None:
    """Whatever a user changes, each cluster's StatefulSet of an accepted render is an update the API server
    accepts of the one it holds (as preview delivers both), and the claims ask for the last accepted size."""
    tmp = tmp_path_factory.mktemp("seq")
    seq = Sequence(tmp)
    held: dict[str, dict[str, Any]] = {}
    gcp = cluster_doc("d", "r4", provider="gcp")
    for step in steps:
        seq.clusters = seq.clusters[:3] + ([gcp] if step["d"] else [])
        storage = {"storageSize": step["size"], **({"storageClass": step["class"]} if step["class"] else {})}
        classes = {"aws": step["overlay"]} if step["overlay"] else {}
        try:
            result = seq.render(storage, classes, step["members"])
        except InputError:
            continue
        for cluster in result.instances[0].placement:
            got = next((o for o in _delivered(result, cluster) if o["kind"] == "StatefulSet"
                        and o["metadata"]["name"] == "db"), None)
            assert got is not None
            if cluster in held:
                assert statefulset_update_problems(held[cluster], got) == []
            held[cluster] = got
        for cluster in list(held):
            if cluster not in result.instances[0].placement:
                del held[cluster]  # Karmada deletes its copy: a later one is created anew
        mrs = yaml.safe_load(result.files[MRS])
        assert seq.state is not None
        assert mrs["spec"]["storage"]["claims"]["data"] == step["size"]
        state = json.loads(result.files[STATE_FILE])
        claims = state["instances"]["team/db"]["workloads"]["StatefulSet/db"]["claims"]["data"]
        asked = parse_quantity(claims["requested"])  # the size asked for (written as the spec first wrote it)
        assert asked == parse_quantity(step["size"])
        assert asked >= parse_quantity(claims["template"])


def _delivered(result: RenderResult, cluster: str) -> list[dict[str, Any]]:
    return [received for _, received in preview(result.files, cluster).objects]


BASE: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
    "spec": {"replicas": 3, "serviceName": "db", "podManagementPolicy": "Parallel",
             "selector": {"matchLabels": {"app": "db"}}, "updateStrategy": {"type": "OnDelete"},
             "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "m"}]}},
             "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                 "accessModes": ["ReadWriteOnce"], "storageClassName": None,
                 "resources": {"requests": {"storage": "10Gi"}}}}]}}


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    return _merge_path(json.loads(json.dumps(BASE)), path, value)


MUTABLE_CHANGES = [(("spec", "replicas"), 5), (("spec", "template", "spec", "containers", 0, "image"), "mongo:8"),
                   (("spec", "updateStrategy"), {"type": "RollingUpdate"}), (("spec", "minReadySeconds"), 10),
                   (("spec", "ordinals"), {"start": 1}),
                   (("spec", "persistentVolumeClaimRetentionPolicy"), {"whenDeleted": "Delete"})]
IMMUTABLE_CHANGES = [(("spec", "serviceName"), "db-x"), (("spec", "selector", "matchLabels", "app"), "x"),
                     (("spec", "podManagementPolicy"), "OrderedReady"), (("spec", "revisionHistoryLimit"), 3),
                     (("spec", "volumeClaimTemplates", 0, "spec", "storageClassName"), "fast"),
                     (("spec", "volumeClaimTemplates", 0, "spec", "resources", "requests", "storage"), "20Gi"),
                     (("spec", "volumeClaimTemplates", 0, "spec", "accessModes"), ["ReadWriteMany"]),
                     (("spec", "volumeClaimTemplates", 0, "spec", "volumeMode"), "Block")]


@given(changes=st.lists(st.sampled_from(MUTABLE_CHANGES), max_size=4),
       refused=st.lists(st.sampled_from(IMMUTABLE_CHANGES), max_size=3))
def test_only_the_fields_validate_statefulset_update_allows_may_change(
        changes: list[tuple[tuple[str | int, ...], Any]], refused: list[tuple[tuple[str | int, ...], Any]]) -> None:
    new = json.loads(json.dumps(BASE))
    for path, value in changes + refused:
        new = _merge_path(new, path, value)
    problems = statefulset_update_problems(BASE, new)
    assert bool(problems) == bool(refused)
    for path, _ in refused:
        assert any(p[:len(path)] == path or path[:len(p)] == p for p, _ in problems), (path, problems)
    assert all("updates to statefulset spec for fields other than" in reason for _, reason in problems)


def _merge_path(obj: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    target: Any = obj
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return obj


def test_the_api_servers_defaults_and_quantities_are_no_change() -> None:
    assert statefulset_update_problems(BASE, _with(("spec", "volumeClaimTemplates", 0, "spec", "resources", "requests",
                                                    "storage"), "10240Mi")) == []
    assert statefulset_update_problems(BASE, _with(("spec", "volumeClaimTemplates", 0, "spec", "volumeMode"),
                                                   "Filesystem")) == []
    unset = json.loads(json.dumps(BASE))
    del unset["spec"]["podManagementPolicy"]
    assert statefulset_update_problems(_with(("spec", "podManagementPolicy"), "OrderedReady"), unset) == []
    no_class = json.loads(json.dumps(BASE))
    del no_class["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"]
    assert statefulset_update_problems(BASE, no_class) == []  # null is absent
    ((path, reason),) = statefulset_update_problems(BASE, _with(("spec", "serviceName"), "other"))
    assert path == ("spec", "serviceName")
    assert reason.startswith("spec.serviceName would change from 'db' to 'other': the API server refuses it")
