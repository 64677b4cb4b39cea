"""Image mirrors (issue 13, section 7): what Karmada's imageOverrider makes of the images fedrender renders.

Every image is checked against tests/karmada_image.py, an independent reading of Karmada's imageparser and
imageOverrider (v1.18.2) and of how container runtimes read an image (distribution/reference).
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.composer.apply import apply_overriders, image_damage
from fedrender.composer.images import Image, damage, override_image
from fedrender.models import names
from fedrender.pipeline.preview import preview
from fedrender.pipeline.render import Inputs, render
from tests import karmada_image
from tests.conftest import CLUSTERS, OVERLAY, ROOT, run
from tests.refusal import mongodb, sandbox
from tests.sandbox import picture

PURE = settings(deadline=None, max_examples=300)
RENDERS = settings(deadline=None, max_examples=6, suppress_health_check=[HealthCheck.too_slow])
MIRROR = "mirror.eu-central.example.com/dockerhub"  # overlays/dev: region eu-central-1 (member-eu-2)
DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_karmadas_parser_splits_a_registry_only_where_it_sees_one() -> None:
    # imageparser.SplitHostname: the first part is a registry when it holds '.' or ':' or is localhost.
    assert Image.parse("percona/mongodb_exporter:0.44.0") == Image("", "percona/mongodb_exporter", "0.44.0", "")
    assert Image.parse("mongo:7.0") == Image("", "mongo", "7.0", "")
    assert Image.parse("docker.io/mongo") == Image("docker.io", "mongo", "", "")
    assert Image.parse("localhost/x/y") == Image("localhost", "x/y", "", "")
    assert Image.parse("reg:5000/x@" + DIGEST) == Image("reg:5000", "x", "", DIGEST)
    # Both a tag and a digest: Karmada keeps the tag only.
    assert Image.parse(f"mongo:7.0@{DIGEST}") == Image("", "mongo", "7.0", "")
    with pytest.raises(ValueError, match="Karmada cannot parse the image"):
        Image.parse("Mongo:7.0")


def test_images_are_normalized_as_container_runtimes_read_them() -> None:
    cases = {
        "mongo": "docker.io/library/mongo",
        "mongo:7.0": "docker.io/library/mongo:7.0",
        "library/mongo:7.0": "docker.io/library/mongo:7.0",
        "docker.io/mongo:7.0": "docker.io/library/mongo:7.0",
        "index.docker.io/mongo:7.0": "docker.io/library/mongo:7.0",
        "docker.io/library/mongo:7.0": "docker.io/library/mongo:7.0",
        "percona/mongodb_exporter:0.44.0": "docker.io/percona/mongodb_exporter:0.44.0",
        f"mongo:7.0@{DIGEST}": f"docker.io/library/mongo:7.0@{DIGEST}",
        "localhost/mongo": "localhost/mongo",
        "localhost:5000/mongo:7.0": "localhost:5000/mongo:7.0",
        "harbor.example.com/dockerhub/library/mongo:8.0": "harbor.example.com/dockerhub/library/mongo:8.0",
        "[::1]:5000/mongo": "[::1]:5000/mongo",
        "not an image": "not an image",
    }
    assert {image: names.normalized_image(image) for image in cases} == cases


# --- generated image references ---------------------------------------------------------------------------------

COMPONENT = st.from_regex(r"[a-z0-9]{1,6}([._-][a-z0-9]{1,6}){0,1}", fullmatch=True)
REGISTRY = st.sampled_from(["", "docker.io/", "index.docker.io/", "registry.example.com/", "registry.example.com:5000/",
                            "localhost/", "localhost:5000/", "10.0.0.1:5000/", "[::1]:5000/"])
TAG = st.sampled_from(["", ":7.0", ":latest", ":v1.2_3-rc"])
DIGESTS = st.sampled_from(["", "@" + DIGEST, "@sha512:" + "ab" * 64])


@st.composite
def images(draw: st.DrawFn) -> str:
    """[registry[:port]/][library/ | namespace/]name[:tag][@digest]."""
    namespace = draw(st.sampled_from(["", "library/", "team/", "a/b/"]))
    return draw(REGISTRY) + namespace + draw(COMPONENT) + draw(TAG) + draw(DIGESTS)


MIRRORS = st.sampled_from(["mirror.example.com", "mirror.example.com/dockerhub", "harbor:8443/proxy/hub", "localhost"])


@PURE
@given(image=images(), component=st.sampled_from(["Registry", "Repository", "Tag"]),
       operator=st.sampled_from(["add", "replace", "remove"]),
       value=st.one_of(MIRRORS, st.sampled_from(["x", "-debug", "8.0", DIGEST, "team/db", ""])))
def test_fedrenders_overrider_is_karmadas(image: str, component: str, operator: str, value: str) -> None:
    assert override_image(image, component, operator, value) == karmada_image.override(image, component, operator,
                                                                                         value)


@PURE
@given(image=images(), mirror=MIRRORS)
def test_a_normalized_image_behind_a_mirror_is_the_image_the_mirror_serves(image: str, mirror: str) -> None:
    """What the pack renders (normalizedImage) and overrides (Registry replace) is the image the mirror serves:
    ``<mirror>/<path as the runtime reads it>``, with the tag, and the digest unless a tag hides it, which
    fedrender then says."""
    template = names.normalized_image(image)
    final = karmada_image.override(template, "Registry", "replace", mirror)
    _, path, tag, digest = karmada_image.docker_normalized(image)
    kept = f":{tag}" if tag else f"@{digest}" if digest else ""
    assert final == f"{mirror}/{path}{kept}"
    warned = damage(template, final, "Registry", "replace")
    assert [w for w in warned if "dropping its digest" in w] == ([
        f"Karmada's imageOverrider turns {template} into {final}, dropping its digest: Karmada keeps only the tag of "
        f"an image that has both; pin the image by digest alone ({template.split('@')[0].rsplit(':', 1)[0]}@{digest})"]
        if tag and digest else [])
    assert not [w for w in warned if "serves under" in w]


@PURE
@given(image=images(), mirror=MIRRORS, component=st.sampled_from(["Registry", "Repository", "Tag"]),
       operator=st.sampled_from(["add", "replace", "remove"]))
def test_every_lost_digest_and_lost_library_is_named(image: str, mirror: str, component: str, operator: str) -> None:
    """And every image of another registry than Docker Hub that a Registry overrider moves onto a mirror (which
    must then serve that registry: found by a new-user walkthrough, quay.io images sent to a Docker Hub mirror)."""
    value = mirror if component == "Registry" else "8.0" if component == "Tag" else "team/db"
    final = karmada_image.override(image, component, operator, value)
    warned = damage(image, final, component, operator)
    digest = karmada_image.docker_normalized(image)[3]
    assert any("dropping its digest" in w for w in warned) == bool(digest and f"@{digest}" not in final)
    domain, path, _, _ = karmada_image.docker_normalized(image)
    lost = (component == "Registry" and operator != "remove" and domain == "docker.io"
            and karmada_image.parse(image)[1] != path)
    assert any("library" in w and "serves under" in w for w in warned) == lost
    if operator == "replace":  # "add" appends to the registry: Karmada makes a new name, not a mirror path
        moved = (component == "Registry" and domain != "docker.io"
                 and karmada_image.docker_normalized(final)[0] != domain)
        assert any("not Docker Hub" in w for w in warned) == moved


def _statefulset(image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "ns"},
            "spec": {"template": {"spec": {"initContainers": [{"name": "i", "image": image}],
                                           "containers": [{"name": "c", "image": image}]}}}}


def test_image_damage_follows_the_overriders_of_a_rule_in_order() -> None:
    rule = {"imageOverrider": [
        {"component": "Registry", "operator": "replace", "value": "mirror.example.com"},
        {"component": "Registry", "operator": "replace", "value": "mirror.example.com",
         "predicate": {"path": "/spec/template/spec/initContainers/0/image"}}]}
    sts = _statefulset(f"docker.io/library/mongo:7.0@{DIGEST}")
    found = image_damage(sts, rule)
    assert [(i, p) for i, p, _ in found] == [(0, "/spec/template/spec/containers/0/image"),
                                           (1, "/spec/template/spec/initContainers/0/image")]
    received = apply_overriders(sts, rule)
    assert received["spec"]["template"]["spec"]["containers"][0]["image"] == "mirror.example.com/library/mongo:7.0"
    assert image_damage(_statefulset(f"docker.io/library/mongo@{DIGEST}"), rule) == []
    assert image_damage(_statefulset("mongo:7.0"), {"imageOverrider": [rule["imageOverrider"][0]]})[0][2].startswith(
        "Karmada's imageOverrider turns mongo:7.0 into mirror.example.com/mongo:7.0: it replaces only the registry")


# --- the MongoDB pack, end to end -------------------------------------------------------------------------------

MONGO = st.builds(lambda registry, namespace, tag, digest: registry + namespace + "mongo" + tag + digest,
                  st.sampled_from(["", "docker.io/", "index.docker.io/", "harbor.example.com/dockerhub/",
                                   "registry.example.com:5000/", "localhost:5000/"]),
                  st.sampled_from(["", "library/"]), TAG, st.sampled_from(["", "@" + DIGEST]))


def _spec(name: str, image: str) -> dict[str, Any]:
    return {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
            "metadata": {"name": name, "namespace": "team"},
            "spec": {"replicaset": 3, "imageSetting": {"image": image}}}


@RENDERS
@given(chosen=st.lists(MONGO, min_size=1, max_size=5, unique=True))
def test_the_pack_renders_mirrored_images_karmada_turns_into_the_intended_ones(chosen: list[str]) -> None:
    with sandbox() as box:
        specs = box.write("specs.yaml", *(_spec(f"db{i}", image) for i, image in enumerate(chosen)))
        result = render(Inputs([specs], CLUSTERS, None, [OVERLAY]))
    files = {path: content for path, content in result.files.items()  # what preview needs, parsed once
             if path.startswith("instances/") and ("/statefulset-" in path or "policy-" in path)}
    received = {obj["metadata"]["name"]: obj for _, obj in preview(files, "member-eu-2").objects
                if obj["kind"] == "StatefulSet"}
    for index, image in enumerate(chosen):
        name = f"db{index}"
        template = yaml.safe_load(files[f"instances/team/{name}/statefulset-{name}.yaml"])
        policy = yaml.safe_load(files[f"instances/team/{name}/overridepolicy-{name}-statefulset.yaml"])
        rule = next(r for r in policy["spec"]["overrideRules"]
                    if "member-eu-2" in r["targetCluster"]["clusterNames"] and "imageOverrider" in r["overriders"])
        pod = template["spec"]["template"]["spec"]
        by_karmada = {}
        for overrider in rule["overriders"]["imageOverrider"]:
            paths = [overrider["predicate"]["path"]] if "predicate" in overrider else [
                f"/spec/template/spec/containers/{i}/image" for i in range(len(pod["containers"]))]
            for path in paths:
                parts = path.strip("/").split("/")
                current = by_karmada.get(path) or pod[parts[3]][int(parts[4])]["image"]
                by_karmada[path] = karmada_image.override(current, overrider["component"], overrider["operator"],
                                                          overrider["value"])
        _, repo, tag, digest = karmada_image.docker_normalized(image)
        kept = f":{tag}" if tag else f"@{digest}" if digest else ""
        intended = f"{MIRROR}/{repo}{kept}"
        assert by_karmada["/spec/template/spec/containers/0/image"] == intended
        assert by_karmada["/spec/template/spec/initContainers/0/image"] == intended
        got = received[name]["spec"]["template"]["spec"]
        assert got["containers"][0]["image"] == got["initContainers"][0]["image"] == intended  # preview agrees
        warned = [d.message for d in result.warnings if d.message.startswith(f"team/{name}: ")
                  and "dropping its digest" in d.message]
        assert len(warned) == (1 if tag and digest else 0)


def test_a_digest_an_override_drops_is_warned_about_at_the_image_in_render_explain_and_preview(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec("db", f"mongo:7.0@{DIGEST}"), sort_keys=False))
    line = next(n for n, text in enumerate(spec.read_text().splitlines(), 1) if "image:" in text)
    inputs = ["--specs", str(spec), "--clusters", str(CLUSTERS), "--overlay", str(OVERLAY)]
    want = (f"spec.imageSetting.image: team/db: Karmada's imageOverrider turns docker.io/library/mongo:7.0@{DIGEST} "
            f"into {MIRROR}/library/mongo:7.0, dropping its digest: Karmada keeps only the tag of an image that has "
            f"both; pin the image by digest alone (docker.io/library/mongo@{DIGEST}) (override rule "
            "'registry-by-region', StatefulSet db /spec/template/spec/containers/0/image, "
            "/spec/template/spec/initContainers/0/image, in member-eu-2)")
    for command in (["render", *inputs, "--out", str(tmp_path / "out")], ["explain", *inputs],
                    ["preview", "--cluster", "member-eu-2", *inputs]):
        result = run(command)
        assert result.exit_code == 0, result.stderr
        assert re.search(rf"{re.escape(str(spec))}:{line}:\d+: warning: {re.escape(want)}", result.stderr), \
            result.stderr
    explained = run(["explain", *inputs, "-o", "json"])
    assert any("dropping its digest" in w for w in yaml.safe_load(explained.stdout)["instances"][0]["warnings"])
    assert "dropping its digest" in run(["explain", *inputs]).stdout
    # Pinned by digest alone, the digest survives the mirror and nothing is said.
    spec.write_text(yaml.safe_dump(_spec("db", f"mongo@{DIGEST}")))
    result = run(["preview", "--cluster", "member-eu-2", *inputs])
    assert f"image: {MIRROR}/library/mongo@{DIGEST}" in result.stdout
    assert "dropping its digest" not in result.stderr


def test_a_pack_that_mirrors_a_short_docker_hub_name_is_told(tmp_path: Path) -> None:
    # The kind, not the example: a pack whose template keeps the short name gets the warning, at the spec field.
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    pack = rules / "mongodb" / "pack.yaml"
    pack.write_text(pack.read_text().replace("normalizedImage(spec.imageSetting.image != '' ? spec.imageSetting.image "
                                             ": 'docker.io/library/mongo:8.0')",
                                             "spec.imageSetting.image != '' ? spec.imageSetting.image : 'mongo:8.0'"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec("db", "docker.io/mongo:7.0"), sort_keys=False))
    result = run(["explain", "--specs", str(spec), "--clusters", str(CLUSTERS), "--overlay", str(OVERLAY), "--rules",
                  str(rules)])
    assert result.exit_code == 0, result.stderr
    assert (f"warning: spec.imageSetting.image: team/db: Karmada's imageOverrider turns docker.io/mongo:7.0 into "
            f"{MIRROR}/mongo:7.0: it replaces only the registry, and the image is Docker Hub's "
            "docker.io/library/mongo:7.0, which a Docker Hub mirror serves under library/mongo; write the image fully "
            "qualified (docker.io/library/mongo:7.0; CEL: normalizedImage(...))") in result.stderr
    # The default image comes from the template: the warning points there.
    spec.write_text(yaml.safe_dump({**_spec("db", ""), "spec": {"replicaset": 3}}, sort_keys=False))
    result = run(["explain", "--specs", str(spec), "--clusters", str(CLUSTERS), "--overlay", str(OVERLAY), "--rules",
                  str(rules)])
    template = rules / "mongodb" / "templates" / "statefulset.yaml"
    assert re.search(rf"{re.escape(str(template))}:\d+:\d+: warning: spec.template.spec.containers\[0\].image: "
                     "team/db: Karmada's imageOverrider turns mongo:8.0 into", result.stderr), result.stderr


def test_the_readme_example_pulls_library_mongo_through_the_mirror() -> None:
    sts = copy.deepcopy(_statefulset("docker.io/library/mongo:7.0"))
    rule = {"imageOverrider": [{"component": "Registry", "operator": "replace", "value": MIRROR}]}
    assert apply_overriders(sts, rule)["spec"]["template"]["spec"]["containers"][0]["image"] == \
        f"{MIRROR}/library/mongo:7.0"


@PURE
@given(port=st.integers(0, 10**7), host=st.sampled_from(["mirror.example.com", "localhost", "[::1]", "[fd00::5]",
                                                            "registry", "10.0.0.1"]))
def test_a_registry_port_outside_tcps_range_is_refused_wherever_a_registry_is_read(port: int, host: str) -> None:
    """Overlay registryMirrors (names.registry) and every image (names.image_reference): a port of 1-65535,
    whichever form the host takes (distribution/reference's grammar takes any digits)."""
    valid = 1 <= port <= 65535
    assert (names.registry(f"{host}:{port}/dockerhub") == []) is valid
    assert (names.registry(f"{host}:{port}") == []) is valid
    assert (names.image_reference(f"{host}:{port}/library/mongo:8.0") == []) is valid
    if valid:
        assert Image.parse(f"{host}:{port}/library/mongo:8.0").hostname == f"{host}:{port}"


@pytest.mark.parametrize("image", ["[::1]:5000/mongo:8.0", "[fd00::1]/library/mongo:8.0", "registry:5000/mongo:8.0",
                                   "Harbor.Example.com/dockerhub/library/mongo:8.0"])
def test_the_official_image_from_any_registry_karmada_reads_is_accepted(image: str) -> None:
    assert names.image_reference(image) == []
    assert Image.parse(image).hostname == image.split("/")[0]
    with sandbox() as box:
        result = box.render(box.write("db.yaml", mongodb(imageSetting={"image": image})))
        assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("mirror", ["mirror.example.com:99999/x", "mirror.example.com:0", "[::1]:65536/x"])
def test_an_overlay_mirror_with_a_port_out_of_range_is_refused_at_its_line(mirror: str) -> None:
    with sandbox() as box:
        overlay = box.write("overlay/mirrors.yaml", {"registryMirrors": {"eu-central-1": mirror}})
        specs = box.write("db.yaml", mongodb())
        before = picture(box.root)
        result = box.render(specs, "--overlay", str(overlay.parent))
        box.assert_refused(result, before, overlay, "registryMirrors.eu-central-1")
        assert "outside 1-65535" in result.stderr
