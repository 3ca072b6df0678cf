"""Where a pinned Helm chart may come from besides its public repository, and the checks that
keep a mirror or a vendored chart from changing what is installed.

A mirror (https:// Helm repository or oci:// registry) serves the same chart name at the
pinned version. A local chart (a directory with Chart.yaml, or a packaged .tgz) is installed
as it is, so its Chart.yaml must name the pinned chart and version; Helm itself ignores the
version of a local chart.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPOSITORY_URL = r"(https|oci)://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s?#]*)?"
"""A chart repository the platform installs from: https:// (a Helm repository's index.yaml
is under it) or oci:// (the chart is <url>/<chart name>, tagged with its version)."""


@dataclass(frozen=True)
class ChartMetadata:
    name: str
    version: str


class LocalChartError(ValueError):
    """The path holds no readable chart."""


def repository_problem(url: str) -> str | None:
    """Why `url` cannot be a chart repository, or None."""
    if re.fullmatch(REPOSITORY_URL, url):
        return None
    return f"{url!r} is not an https:// or oci:// URL of a chart repository"


def read_chart(path: Path) -> ChartMetadata:
    """The name and version a chart directory's Chart.yaml, or a packaged chart's, declares."""
    if path.is_dir():
        chart_file = path / "Chart.yaml"
        if not chart_file.is_file():
            raise LocalChartError(f"{path} has no Chart.yaml: not a chart directory")
        return _metadata(chart_file.read_text(), str(chart_file))
    if not path.exists():
        raise LocalChartError(f"{path} does not exist")
    try:
        with tarfile.open(path, "r:gz") as archive:
            # `helm package` writes <chart>/Chart.yaml; deeper ones are subcharts.
            top = [
                m for m in archive.getmembers() if m.isfile() and re.fullmatch(r"[^/]+/Chart\.yaml", m.name)
            ]
            if len(top) != 1:
                raise LocalChartError(f"{path} holds no <chart>/Chart.yaml: not a packaged chart")
            extracted = archive.extractfile(top[0])
            assert extracted is not None  # a regular file
            return _metadata(extracted.read().decode(), f"{path}:{top[0].name}")
    except (tarfile.TarError, OSError, UnicodeDecodeError):
        raise LocalChartError(
            f"{path} is neither a chart directory nor a packaged chart (.tgz from `helm package`)"
        ) from None


def _metadata(text: str, where: str) -> ChartMetadata:
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        raise LocalChartError(f"{where} is not valid YAML") from None
    if not isinstance(doc, dict) or not doc.get("name") or not doc.get("version"):
        raise LocalChartError(f"{where} does not declare the chart's name and version")
    return ChartMetadata(str(doc["name"]), str(doc["version"]))


def local_chart_problem(
    path: Path, name: str, version: str, allow_version_mismatch: bool = False
) -> str | None:
    """Why the chart at `path` cannot be installed in place of the pinned chart `name` `version`,
    or None. With `allow_version_mismatch` (a stand-in chart for tests) any readable chart will do."""
    try:
        found = read_chart(path)
    except LocalChartError as exc:
        return str(exc)
    if allow_version_mismatch or (found.name, found.version) == (name, version):
        return None
    return (
        f"the chart at {path} is {found.name} {found.version}, but the platform pins {name} {version}; "
        f"vendor the pinned chart (helm pull {name} --version {version}): a local chart must not change "
        "what is installed"
    )
