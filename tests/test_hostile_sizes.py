"""Sizes and references the API server or the container runtime would refuse, found by a hostile-input review:
oversized annotations and objects (which also made the CEL budget fail at random, and a rule exhaust memory),
objects without apiVersion/kind, registry mirrors and image references that are not references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.models import names
from tests.refusal import mongodb, sandbox
from tests.sandbox import picture


@pytest.mark.parametrize("size", [256 * 1024 + 1, 1_000_000])
def test_annotations_over_256_kib_are_refused_at_the_annotations(size: int) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb({"annotations": {"x": "A" * (size - 1)}}))
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, "metadata.annotations: ")
        assert "Kubernetes allows 262144 (256 KiB)" in result.stderr


def test_an_object_over_the_api_servers_limit_is_refused() -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(imageSetting={"image": "a" * 1_600_000}))
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec)
        assert "the Kubernetes API server stores objects of at most 1572864" in result.stderr


@pytest.mark.parametrize(("doc", "says"), [({}, "has no apiVersion and no kind"),
                                            ({"kind": "X"}, "has no apiVersion;"),
                                            ({"apiVersion": "v1"}, "has no kind;")])
def test_an_object_without_apiversion_or_kind_says_so(doc: dict[str, str], says: str) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", doc)
        before = picture(box.root)
        result = box.render(spec)
        box.assert_refused(result, before, spec, "kind: ")
        assert says in result.stderr
        assert "None" not in result.stderr


def refused_with_overlay(overlay_data: dict[str, Any], located_at: Path | None, field: str) -> None:
    """A valid spec rendered with an overlay of ``overlay_data`` is refused at ``located_at`` (the overlay file
    when None) naming ``field``, with not a byte changed."""
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb())
        overlay = box.write("overlay/o.yaml", overlay_data)
        before = picture(box.root)
        result = box.render(spec, "--overlay", str(overlay.parent))
        box.assert_refused(result, before, located_at or overlay, field)


@pytest.mark.parametrize("mirror", ["http://evil/../x y", "https://mirror.example.com", "mirror.example.com/../x",
                                    "a b", "mirror.example.com/UPPER", ""])
def test_a_registry_mirror_that_is_not_a_registry_is_refused_at_the_overlay(mirror: str) -> None:
    refused_with_overlay({"registryMirrors": {"eu-central-1": mirror}}, None, "registryMirrors.eu-central-1: ")


@pytest.mark.parametrize("image", ["x y; \n rm", "https://ghcr.io/x:1", "ghcr.io/UPPER/x:1", "x:tag with space",
                                   5, ["a"], None, True, {"a": 1}, "mirror.example.com:99999/x:1"])
@pytest.mark.parametrize("key", ["mongodb", ""])
def test_an_overlay_image_that_is_not_an_image_reference_is_refused_at_the_overlay(image: object, key: str) -> None:
    """values.mongodb.reconcilerImage (and the deprecated values.reconcilerImage) is a typed setting: a wrong one
    is refused at the overlay's line naming the field, never in the pack's template (was an internal CEL error
    there, or image: '5')."""
    values = {"mongodb": {"reconcilerImage": image}} if key else {"reconcilerImage": image}
    field = "values.mongodb.reconcilerImage: " if key else "values.reconcilerImage: "
    refused_with_overlay({"values": values}, None, field + ("expected a string" if not isinstance(image, str)
                                                            else ""))


_COMPONENT = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,8}){0,2}", fullmatch=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registry=st.sampled_from(["", "docker.io/", "localhost:5000/", "mirror.example.com/dockerhub/", "[::1]:5000/"]),
       path=st.lists(_COMPONENT, min_size=1, max_size=3),
       tag=st.sampled_from(["", ":8.0", ":latest", ":v1.2_3-rc"]),
       digest=st.sampled_from(["", "@sha256:" + "a" * 64]))
def test_well_formed_image_references_are_accepted(registry: str, path: list[str], tag: str, digest: str) -> None:
    assert names.image_reference(registry + "/".join(path) + tag + digest) == []
