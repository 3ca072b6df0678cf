"""Config of where the pinned Helm charts come from: their public repositories by default, or a
mirror or a local chart for clusters that cannot reach them (firewalled networks)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo

from components.core.charts import REPOSITORY_URL
from components.versions import GATEWAY_API_VERSION, HELM_CHARTS
from infra.config.base import Model, matching, pattern

CHART_NAMES: tuple[str, ...] = tuple(chart.name for chart in HELM_CHARTS)


def _known_chart(name: str) -> str:
    if name not in CHART_NAMES:
        raise ValueError(f"{name!r} is not a chart the platform installs; charts: {', '.join(CHART_NAMES)}")
    return name


def _from_project_dir(path: str, info: ValidationInfo) -> str:
    """A relative path starts at the project directory (where Pulumi.yaml is), whatever directory
    the program runs in (`main: infra/` runs it, and the Kubernetes provider, in infra/)."""
    project_dir = (info.context or {}).get("project_dir") or Path.cwd()
    return os.path.normpath(Path(project_dir) / Path(path).expanduser())


ChartName = Annotated[str, AfterValidator(_known_chart), Field(json_schema_extra={"enum": list(CHART_NAMES)})]
ChartRepository = Annotated[
    str, matching(REPOSITORY_URL, "an https:// or oci:// URL of a chart repository"), pattern(REPOSITORY_URL)
]
LocalChartPath = Annotated[str, Field(min_length=1), AfterValidator(_from_project_dir)]


class ChartSourceConfig(Model):
    repository: ChartRepository | None = None
    """A mirror of the chart's repository that serves the same chart at its pinned version: https://... (a Helm repository: ChartMuseum, Artifactory, Nexus, Harbor) or oci://... (a registry holding the chart as <repository>/<chart name>)."""
    path: LocalChartPath | None = None
    """A local chart instead of a repository: a chart directory (with Chart.yaml) or a packaged .tgz (`helm pull --version <pin>`), absolute or relative to the project directory (where Pulumi.yaml is). It must be the pinned chart: the plan fails when its Chart.yaml names another chart or version."""
    allow_version_mismatch: bool = False
    """Install the local chart at path whatever its name and version. Only for stand-in charts in tests (e2e/charts/standin), never for a real cluster; the release then also gets the value standsInFor: <pinned chart name>."""


def _existing_file(path: str) -> str:
    if not Path(path).is_file():
        raise ValueError(
            f"no file at {path}; vendor the Gateway API {GATEWAY_API_VERSION} standard-install.yaml there"
        )
    return path


def _url_or_local_file(value: str, info: ValidationInfo) -> str:
    if value.startswith("https://"):
        return value
    if "://" in value:
        raise ValueError("must be an https:// URL or a local file path")
    return _existing_file(_from_project_dir(value, info))


GatewayApiCrdsSource = Annotated[str, Field(min_length=1), AfterValidator(_url_or_local_file)]
