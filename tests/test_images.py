"""The container images, checked without a container builder (none runs here): every COPY source exists,
the entrypoints are console scripts the wheel installs, and the user, paths and image names agree with the
rendered reconciler Deployment and the Argo CD sidecar that run them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.conftest import DEMO_ARGS, ROOT, run

IMAGES = ROOT / "images"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
VERSION = PYPROJECT["project"]["version"]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


@pytest.mark.parametrize("dockerfile", sorted(IMAGES.glob("*.Dockerfile")), ids=lambda p: p.name)
def test_every_copy_source_exists_and_the_final_stage_installs_only_the_wheel(dockerfile: Path) -> None:
    for word, args in instructions(dockerfile):
        if word == "COPY" and "--from=" not in args:
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}: no such path in the repository"
    final = final_stage(dockerfile)
    copies = [args for word, args in final if word == "COPY"]
    assert copies == ["--from=build /wheels /wheels"], "the final stage takes only the built wheels"
    runs = " ".join(args for word, args in final if word == "RUN")
    assert "--no-index --find-links /wheels fedrender" in runs


def test_the_wheel_build_context_carries_what_pyproject_packages() -> None:
    dockerfile = instructions(IMAGES / "reconciler.Dockerfile")
    copied = {source for word, args in dockerfile if word == "COPY" and "--from=" not in args
              for source in args.split()[:-1]}
    package_dirs = {p.split(".")[0] for p in PYPROJECT["tool"]["setuptools"]["packages"]}
    package_dirs |= set(PYPROJECT["tool"]["setuptools"]["package-dir"].values())
    assert package_dirs <= copied, f"the image build misses {sorted(package_dirs - copied)}"
    assert {"LICENSE", "README.md"} <= copied  # pyproject's license and readme


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("render")
    result = run(["render", *DEMO_ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    path = out / "platform" / "mongodb" / "deployment-fedrender-reconciler.yaml"
    return dict(yaml.safe_load(path.read_text()))


def test_the_reconciler_image_runs_as_the_deployment_expects(deployment: dict[str, Any]) -> None:
    final = dict(final_stage(IMAGES / "reconciler.Dockerfile"))
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    uid = int(final["USER"].split(":")[0])
    assert uid == pod["securityContext"]["runAsUser"] == 65532
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert final["ENTRYPOINT"] == '["fedrender-reconciler"]'
    assert container["command"] == ["fedrender-reconciler"]
    assert "fedrender-reconciler" in SCRIPTS
    assert container["image"] == f"ghcr.io/fedrender/fedrender-reconciler:{VERSION}"
    makefile = (ROOT / "Makefile").read_text()
    assert "$(IMAGE_REGISTRY)/fedrender-reconciler:$(VERSION)" in makefile
    assert "IMAGE_REGISTRY ?= ghcr.io/fedrender" in makefile


def test_the_cmp_sidecar_runs_the_cmp_image_as_argo_cd_documents() -> None:
    patch = yaml.safe_load((ROOT / "gitops" / "cmp" / "argocd-repo-server-patch.yaml").read_text())
    pod = patch["spec"]["template"]["spec"]
    (sidecar,) = pod["containers"]
    final = dict(final_stage(IMAGES / "cmp.Dockerfile"))
    assert sidecar["image"] == f"ghcr.io/fedrender/fedrender-cmp:{VERSION}"
    assert "$(IMAGE_REGISTRY)/fedrender-cmp:$(VERSION)" in (ROOT / "Makefile").read_text()
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert int(final["USER"].split(":")[0]) == sidecar["securityContext"]["runAsUser"] == 999
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    config = mounts["/home/argocd/cmp-server/config/plugin.yaml"]
    assert config["subPath"] == "plugin.yaml"
    assert {"/var/run/argocd", "/home/argocd/cmp-server/plugins", "/tmp"} <= set(mounts)
    volumes = {v["name"]: v for v in pod["volumes"]}
    configmap = yaml.safe_load((ROOT / "gitops" / "cmp-plugin.yaml").read_text())
    assert volumes[config["name"]]["configMap"]["name"] == configmap["metadata"]["name"]
    # The sidecar validates as a container of a Pod (the Deployment patch itself is partial).
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "argocd-repo-server"},
                                  "spec": {**pod, "volumes": [*pod["volumes"], {"name": "var-files", "emptyDir": {}},
                                                              {"name": "plugins", "emptyDir": {}}]}},
                                 "1.33", strict=True)
    # The plugin configuration inside the ConfigMap is a valid ConfigManagementPlugin that runs fedrender.
    plugin = yaml.safe_load(configmap["data"]["plugin.yaml"])
    schema = yaml.safe_load((ROOT / "schemas" / "argocd" / "argocd.schema.yaml").read_text())
    jsonschema.validate(plugin, {"$defs": schema["$defs"], **schema["kinds"]["ConfigManagementPlugin"]},
                        cls=jsonschema.Draft202012Validator)
    assert plugin["spec"]["generate"]["args"][0].startswith("fedrender render ")
    assert "fedrender" in SCRIPTS


def test_a_warning_names_the_overlay_key_while_the_default_reconciler_image_is_used(tmp_path: Path) -> None:
    default = run(["render", *DEMO_ARGS, "--out", str(tmp_path / "default")])
    assert default.exit_code == 0, default.stderr
    (warning,) = [line for line in default.stderr.splitlines() if "reconciler-image-set" in line]
    assert ": warning: " in warning
    assert f"default image ghcr.io/fedrender/fedrender-reconciler:{VERSION}" in warning
    assert "values.mongodb.reconcilerImage" in warning
    image = "registry.example.com/platform/fedrender-reconciler:0.1.0"
    for values in ({"mongodb": {"reconcilerImage": image}}, {"reconcilerImage": image}):
        overlay = tmp_path / f"images-overlay-{len(tmp_path.name)}-{'mongodb' in values}"
        overlay.mkdir()
        (overlay / "values.yaml").write_text(yaml.safe_dump({"values": values}))
        out = tmp_path / f"chosen-{'mongodb' in values}"
        chosen = run(["render", *DEMO_ARGS, "--overlay", str(overlay), "--out", str(out)])
        assert chosen.exit_code == 0, chosen.stderr
        assert "reconciler-image-set" not in chosen.stderr
        deprecated = f"{overlay / 'values.yaml'}:2:3: warning: values.reconcilerImage: values.reconcilerImage is " \
            "deprecated: write values.mongodb.reconcilerImage"
        assert (deprecated in chosen.stderr) is ("mongodb" not in values), chosen.stderr
        path = out / "platform" / "mongodb" / "deployment-fedrender-reconciler.yaml"
        (container,) = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"]
        assert container["image"] == image
