"""Pinned versions agree with each other and with the pinned upstream files."""

from __future__ import annotations

import re

import pytest
import yaml

from components import versions
from tests.upstream import upstream_dir

# Charts whose Chart.yaml in git carries a placeholder the release workflow replaces with the
# tag (../shared/upstream/MANIFEST.md items 11 and 12): the pin is the published version.
GIT_PLACEHOLDER_VERSION = "v0.0.0-latest"
# Charts of CRDs only, installed with no values: their CRDs are what is pinned upstream.
CRD_ONLY_CHARTS = {versions.AI_GATEWAY_CRDS.name: "aigateway.envoyproxy.io"}


@pytest.mark.parametrize("chart", versions.HELM_CHARTS, ids=lambda c: c.name)
def test_chart_pins_match_the_upstream_chart_files(chart: versions.HelmChart) -> None:
    if chart.name in CRD_ONLY_CHARTS:
        assert list((upstream_dir() / "crds" / CRD_ONLY_CHARTS[chart.name]).glob("*.yaml"))
        assert chart.version == versions.AI_GATEWAY.version  # released together
        return
    folder = versions.UPSTREAM_CHART_DIRS.get(chart.name, chart.name)
    upstream = yaml.safe_load((upstream_dir() / "charts" / folder / "Chart.yaml").read_text())
    assert upstream["name"] == chart.name
    if chart.name in versions.UPSTREAM_CHART_DIRS:
        assert str(upstream["version"]) == GIT_PLACEHOLDER_VERSION
        assert re.fullmatch(r"v\d+\.\d+\.\d+", chart.version)
    else:
        # Karpenter's chart files at its v1.14.1 tag still say 1.13.0 (upstream MANIFEST item 5).
        expected = versions.STALE_UPSTREAM_CHART_VERSIONS.get(chart.name, chart.version)
        assert str(upstream["version"]) == expected
    assert chart.repository.startswith(("https://", "oci://"))


def test_karpenter_is_pinned_to_its_chart_release_not_to_the_stale_chart_files() -> None:
    """The chart at the v1.14.1 tag names the 1.13.0 controller image; the platform sets the
    1.14.1 image itself, and the values it installs say so."""
    upstream = yaml.safe_load((upstream_dir() / "charts" / "karpenter" / "values.yaml").read_text())
    assert upstream["controller"]["image"]["tag"] == "1.13.0"  # the stale default we override
    assert versions.KARPENTER.version == versions.KARPENTER_IMAGE_TAG == "1.14.1"
    assert versions.KARPENTER.repository == "oci://public.ecr.aws/karpenter"
    assert set(versions.STALE_UPSTREAM_CHART_VERSIONS) == {"karpenter"}


def test_karpenter_ami_alias_is_a_pinned_release() -> None:
    from components.core.karpenter import AMI_ALIAS

    assert re.fullmatch(r"al2023@v\d{8}", AMI_ALIAS), AMI_ALIAS


def test_gateway_pins_are_the_releases_upstream_was_read_at() -> None:
    manifest = (upstream_dir() / "MANIFEST.md").read_text()
    assert f"envoyproxy/gateway | `{versions.ENVOY_GATEWAY.version}`" in manifest
    assert f"envoyproxy/ai-gateway | `{versions.AI_GATEWAY.version}`" in manifest


def test_kube_proxy_matches_the_cluster_minor_version() -> None:
    kube_proxy = versions.EKS_ADDONS["kube-proxy"].version
    assert kube_proxy.startswith(f"v{versions.KUBERNETES_VERSION}.")


def test_addon_versions_are_exact_eks_builds() -> None:
    for name, addon in versions.EKS_ADDONS.items():
        assert re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", addon.version), name


def test_container_images_are_pinned_to_exact_release_tags() -> None:
    images = {name: value for name, value in vars(versions).items() if name.endswith("_IMAGE")}
    assert {"VLLM_IMAGE", "AWS_CLI_IMAGE", "HUB_SYNC_IMAGE", "TRITON_IMAGE", "AUTH_PROXY_IMAGE"} <= set(
        images
    )
    for name, image in images.items():
        _, _, tag = image.rpartition(":")
        assert tag and tag != "latest", name
        if image.startswith("nvcr.io/nvidia/tritonserver:"):
            # NGC names Triton releases yy.mm (26.07 = server 2.71.0); each is one fixed build
            assert re.fullmatch(r"\d{2}\.\d{2}-vllm-python-py3", tag), (name, image)
            continue
        # a patch release, not a moving minor tag such as python:3.12-slim
        assert re.match(r"v?\d+\.\d+\.\d+", tag), (name, image)


def test_hub_client_pins_are_exact_versions() -> None:
    for pin in (versions.HUGGINGFACE_HUB_VERSION, versions.HF_XET_VERSION):
        assert re.fullmatch(r"\d+\.\d+\.\d+", pin)
