"""Third-party validators over the offline plans: kubernetes-validate, checkov, parliament, Helm charts."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import parliament
import pytest
import yaml

from components import versions
from tests.conftest import REPO
from tests.upstream import upstream_dir

STACKS = ["dev", "prod"]
# kubernetes-validate ships schemas by minor release; validate against the cluster's own.
KUBE_SCHEMA_VERSION = f"{versions.KUBERNETES_VERSION}.0"
IDENTITY_POLICY_TYPES = {"aws:iam/rolePolicy:RolePolicy": "policy", "aws:iam/policy:Policy": "policy"}


def manifests(out: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((out / "manifests").glob("*.yaml")):
        yield path.name, yaml.safe_load(path.read_text())


@pytest.mark.parametrize("stack", STACKS)
def test_builtin_kinds_pass_kubernetes_validate_strict(planned: Callable[[str], Path], stack: str) -> None:
    checked = 0
    for name, obj in manifests(planned(stack)):
        try:
            kubernetes_validate.validate(obj, KUBE_SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {exc.message} at {'.'.join(map(str, exc.path))}")
        checked += 1
    assert checked > 0


def checkov_command() -> list[str]:
    binary = Path(os.environ.get("CHECKOV", REPO / ".venv-tools" / "checkov" / "bin" / "checkov"))
    if not binary.is_file():
        pytest.fail(f"checkov not found at {binary}; scripts/test.sh installs it into its own virtualenv")
    return [str(binary)]


@pytest.mark.parametrize("stack", STACKS)
def test_checkov_finds_no_unskipped_failure(planned: Callable[[str], Path], stack: str) -> None:
    result = subprocess.run(
        [
            *checkov_command(),
            "--directory",
            str(planned(stack) / "manifests"),
            "--framework",
            "kubernetes",
            "--skip-download",  # offline: no guideline lookups
            "--output",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    skipped = [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])]
    assert all(c.get("suppress_comment") for c in skipped), "every skip must carry its reason"


@pytest.mark.parametrize("stack", STACKS)
def test_identity_policies_pass_parliament(planned: Callable[[str], Path], stack: str) -> None:
    records = json.loads((planned(stack) / "resources.json").read_text())
    policies = [
        (r["name"], r["props"][key])
        for r in records
        for t, key in IDENTITY_POLICY_TYPES.items()
        if r["type"] == t
    ]
    assert policies
    for name, document in policies:
        findings = parliament.analyze_policy_string(document).findings
        assert [(f.issue, f.detail) for f in findings] == [], name


def chart_paths(values: Any, prefix: str = "") -> Iterator[str]:
    """Every key path the program sets; lists are values, not structure."""
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from chart_paths(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix


def exists_in_chart(defaults: Any, path: str) -> bool:
    """True when the chart's values.yaml has `path`, or a free-form map ({} or null) above it."""
    node = defaults
    for key in path.split("."):
        if node is None or node == {}:
            return True  # e.g. resources: {} takes any requests/limits
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


@pytest.mark.parametrize("stack", STACKS)
def test_helm_values_use_only_keys_the_pinned_charts_have(planned: Callable[[str], Path], stack: str) -> None:
    out = planned(stack)
    records = json.loads((out / "resources.json").read_text())
    releases = [r for r in records if r["type"] == "kubernetes:helm.sh/v3:Release"]
    assert releases
    for release in releases:
        chart_dir = upstream_dir() / "charts" / release["props"]["chart"]
        chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
        assert str(chart["version"]) == release["props"]["version"], (
            "pinned version differs from the upstream file"
        )
        defaults = yaml.safe_load((chart_dir / "values.yaml").read_text())
        values = yaml.safe_load((out / "helm" / f"{release['props']['name']}.values.yaml").read_text())
        unknown = [p for p in chart_paths(values) if not exists_in_chart(defaults, p)]
        assert unknown == [], f"{release['props']['chart']}: keys not in its values.yaml"


def test_chart_key_check_catches_a_typo() -> None:
    defaults = {"tolerations": [], "resources": {}, "gfd": {"enabled": False}}
    assert exists_in_chart(defaults, "resources.requests.cpu")
    assert exists_in_chart(defaults, "gfd.enabled")
    assert not exists_in_chart(defaults, "gfd.enable")
    assert not exists_in_chart(defaults, "toleration")
