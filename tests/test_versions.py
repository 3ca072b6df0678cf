"""Pinned versions agree with each other and with the pinned upstream files."""

from __future__ import annotations

import re

import pytest
import yaml

from components import versions
from tests.upstream import upstream_dir


@pytest.mark.parametrize("chart", versions.HELM_CHARTS, ids=lambda c: c.name)
def test_chart_pins_match_the_upstream_chart_files(chart: versions.HelmChart) -> None:
    upstream = yaml.safe_load((upstream_dir() / "charts" / chart.name / "Chart.yaml").read_text())
    assert upstream["name"] == chart.name
    assert str(upstream["version"]) == chart.version
    assert chart.repository.startswith("https://")


def test_kube_proxy_matches_the_cluster_minor_version() -> None:
    kube_proxy = versions.EKS_ADDONS["kube-proxy"].version
    assert kube_proxy.startswith(f"v{versions.KUBERNETES_VERSION}.")


def test_addon_versions_are_exact_eks_builds() -> None:
    for name, addon in versions.EKS_ADDONS.items():
        assert re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", addon.version), name
