"""Third-party validators over the offline plans: kubernetes-validate, checkov, parliament, Helm charts."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import parliament
import pytest
import yaml

from components import versions
from tests.conftest import REPO
from tests.crd import is_custom, validate_custom
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
        if is_custom(obj):
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {exc.message} at {'.'.join(map(str, exc.path))}")
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_fit_the_pinned_crd_schemas(planned: Callable[[str], Path], stack: str) -> None:
    custom = [(name, obj) for name, obj in manifests(planned(stack)) if is_custom(obj)]
    kinds = {obj["kind"] for _, obj in custom}
    assert {"ScaledObject", "HTTPRoute", "Gateway", "GatewayClass", "TargetGroupConfiguration"} <= kinds
    for name, obj in custom:
        try:
            validate_custom(obj)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{name}: {exc.message} at {list(exc.absolute_path)}")


def test_crd_validation_is_strict() -> None:
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "n"},
        "spec": {"rules": [{"backendRefs": [{"name": "svc", "port": 8000, "wieght": 10}]}]},
    }
    with pytest.raises(jsonschema.ValidationError, match="wieght"):
        validate_custom(route)
    with pytest.raises(jsonschema.ValidationError, match="not served"):
        validate_custom({**route, "apiVersion": "gateway.networking.k8s.io/v9"})


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
    assert all(c["check_result"].get("suppress_comment") for c in skipped), "every skip must carry its reason"


# parliament findings accepted on the AWS Load Balancer Controller's policy only, and why.
ACCEPTED_ON_CONTROLLER_POLICY = {
    # Load balancers, target groups and security groups have no ARN before the controller
    # creates them; the published policy scopes them by the elbv2.k8s.aws/cluster tag instead.
    "RESOURCE_STAR": None,
    # Newer than parliament 1.6.4's IAM definitions (AWS added them in 2024-2025).
    "UNKNOWN_ACTION": "elasticloadbalancing:ModifyIpPools",
    "UNKNOWN_CONDITION_FOR_ACTION": "elasticloadbalancing:CreateAction",
}


# parliament findings accepted on Karpenter's controller policy only, and why. Its published
# v1 policy splits ec2:RunInstances/CreateFleet over several statements, one per kind of
# resource, so that each kind gets its own tag condition (what it launches must carry the
# cluster's tags; images, subnets and security groups cannot): parliament reads each
# statement alone and misses the other kinds. Public SSM parameters (the AMI ids under
# /aws/service/) have no account in their ARN.
ACCEPTED_ON_KARPENTER_POLICY = {
    "RESOURCE_MISMATCH": ("ec2:RunInstances", "ec2:CreateFleet", "ssm:GetParameter"),
}


# parliament's bundled IAM data predates ECR's pull-through cache: it wants "*" for
# ecr:BatchImportUpstreamImage, while AWS's Service Authorization Reference lists its resource
# type as repository (required). The node policy keeps it to the cache's own repositories.
ACCEPTED_ON_IMAGE_CACHE_POLICY = {"RESOURCE_MISMATCH": ("ecr:BatchImportUpstreamImage",)}


def _accepted(policy_name: str, issue: str, detail: object) -> bool:
    if policy_name.endswith("-images-nodes"):
        actions = {d["action"] for d in detail} if isinstance(detail, list) else {None}
        return issue in ACCEPTED_ON_IMAGE_CACHE_POLICY and actions <= set(
            ACCEPTED_ON_IMAGE_CACHE_POLICY[issue]
        )
    if policy_name.endswith("-karpenter-controller"):
        actions = {d["action"] for d in detail} if isinstance(detail, list) else {None}
        return issue in ACCEPTED_ON_KARPENTER_POLICY and actions <= set(ACCEPTED_ON_KARPENTER_POLICY[issue])
    if not policy_name.endswith("-controller") or issue not in ACCEPTED_ON_CONTROLLER_POLICY:
        return False
    expected = ACCEPTED_ON_CONTROLLER_POLICY[issue]
    return expected is None or expected in str(detail)


@pytest.mark.parametrize("stack", STACKS)
def test_identity_policies_pass_parliament(planned: Callable[[str], Path], stack: str) -> None:
    records = json.loads((planned(stack) / "resources.json").read_text())
    policies = [
        (r["name"], r["props"][key])
        for r in records
        for t, key in IDENTITY_POLICY_TYPES.items()
        if r["type"] == t
    ]
    assert len(policies) >= 4  # flow logs, model read and sync roles, the load balancer controller
    for name, document in policies:
        findings = parliament.analyze_policy_string(document).findings
        assert [(f.issue, f.detail) for f in findings if not _accepted(name, f.issue, f.detail)] == [], name


def chart_paths(values: Any, prefix: str = "") -> Iterator[str]:
    """Every key path the program sets; lists are values, not structure."""
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from chart_paths(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix


def exists_in_chart(defaults: Any, path: str, schema: dict[str, Any] | None = None) -> bool:
    """True when the chart's values.yaml has `path`, or a free-form map above it: one whose
    default is {} or null, or one the chart's values.schema.json declares open
    (additionalProperties, no properties listed)."""
    node, spec = defaults, schema
    if (
        path.startswith("nodeSelector.")
        and isinstance(defaults, dict)
        and isinstance(defaults.get("nodeSelector"), dict)
    ):
        return True  # a label selector takes any label, whatever labels its default lists
    for key in path.split("."):
        if node is None or node == {}:
            return True  # e.g. resources: {} takes any requests/limits
        if spec is not None and spec.get("additionalProperties") is True and not spec.get("properties"):
            return True  # e.g. loki.storage
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
        spec = (spec or {}).get("properties", {}).get(key) if spec is not None else None
    return True


# Subcharts whose values.yaml is pinned too: their keys are checked against it.
PINNED_SUBCHARTS = {"kube-prometheus-stack": {"grafana": "grafana"}}
# Subcharts with no pinned values.yaml: their keys pass unchecked, and only these.
UNPINNED_SUBCHARTS = {
    "kube-prometheus-stack": {
        # kube-state-metrics 8.4.0 (a dependency of kube-prometheus-stack 88.5.3); its values.yaml
        # is not under ../shared/upstream. Keys set: nodeSelector, metricLabelsAllowlist.
        "kube-state-metrics",
    }
}


# Values files upstream publishes for a chart besides its values.yaml, whose keys the chart takes
# too: Envoy AI Gateway's required Envoy Gateway values and its add-ons (config.envoyGateway is
# Envoy Gateway's own config API, rendered whole into its ConfigMap).
EXTRA_VALUES_FILES = {
    "envoy-gateway": (
        "ai-gateway/envoy-gateway-values.yaml",
        "ai-gateway/envoy-gateway-values-addon-token-ratelimit.yaml",
        "ai-gateway/envoy-gateway-values-addon-inference-pool.yaml",
    )
}
# Subcharts merged under an alias (MANIFEST.md): folder of the chart -> alias -> subfolder.
ALIASED_SUBCHARTS = {"envoy-gateway": {"crds": "crds"}, "inferencepool": {"inferenceExtension": "epplib"}}


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b[k]) if k in a else b[k] for k in b} | {
            k: v for k, v in a.items() if k not in b
        }
    return b if b is not None else a


def chart_defaults(folder: str) -> Any:
    charts = upstream_dir() / "charts"
    defaults = yaml.safe_load((charts / folder / "values.yaml").read_text())
    for extra in EXTRA_VALUES_FILES.get(folder, ()):
        defaults = _merge(defaults, yaml.safe_load((charts / extra).read_text()))
    for alias, sub in ALIASED_SUBCHARTS.get(folder, {}).items():
        defaults = _merge(
            {alias: yaml.safe_load((charts / folder / sub / "values.yaml").read_text())}, defaults
        )
    if folder == "envoy-gateway":
        # A strategic-merge patch of the rate-limit Deployment: any Deployment field.
        defaults["config"]["envoyGateway"]["provider"]["kubernetes"]["rateLimitDeployment"]["patch"][
            "value"
        ] = {}
    return defaults


def unknown_keys(chart_name: str, values: dict[str, Any]) -> list[str]:
    charts = upstream_dir() / "charts"
    defaults = chart_defaults(chart_name)
    schema_file = charts / chart_name / "values.schema.json"
    schema = json.loads(schema_file.read_text()) if schema_file.is_file() else None
    unknown = []
    for path in chart_paths(values):
        top = path.split(".", 1)[0]
        if top in UNPINNED_SUBCHARTS.get(chart_name, set()):
            continue
        subchart = PINNED_SUBCHARTS.get(chart_name, {}).get(top)
        if subchart is not None:
            sub_defaults = yaml.safe_load((charts / subchart / "values.yaml").read_text())
            merged = {**sub_defaults, **(defaults.get(top) or {})}
            if exists_in_chart(merged, path.split(".", 1)[1]):
                continue
        elif exists_in_chart(defaults, path, schema):
            continue
        unknown.append(path)
    return unknown


@pytest.mark.parametrize("stack", STACKS)
def test_helm_values_use_only_keys_the_pinned_charts_have(planned: Callable[[str], Path], stack: str) -> None:
    out = planned(stack)
    records = json.loads((out / "resources.json").read_text())
    releases = [r for r in records if r["type"] == "kubernetes:helm.sh/v3:Release"]
    assert releases
    pins = {chart.name: chart for chart in versions.HELM_CHARTS}
    for release in releases:
        name = release["props"]["chart"].rsplit("/", 1)[-1]  # oci://<registry>/<chart>
        values = yaml.safe_load((out / "helm" / f"{release['props']['name']}.values.yaml").read_text())
        if name == versions.AI_GATEWAY_CRDS.name:
            assert values in ({}, None), "the CRD chart takes no values"
            continue
        folder = versions.UPSTREAM_CHART_DIRS.get(name, name)
        chart = yaml.safe_load((upstream_dir() / "charts" / folder / "Chart.yaml").read_text())
        expected = "v0.0.0-latest" if name in versions.UPSTREAM_CHART_DIRS else pins[name].version
        stale = versions.STALE_UPSTREAM_CHART_VERSIONS.get(name)  # karpenter: see versions.py
        assert str(chart["version"]) in (expected, stale), "pinned version differs from the upstream file"
        assert release["props"]["version"] == pins[name].version
        assert unknown_keys(folder, values) == [], f"{folder}: keys not in its values.yaml"


def test_gateway_values_are_checked_against_envoy_gateway_and_its_ai_add_ons() -> None:
    assert (
        unknown_keys(
            "envoy-gateway", {"config": {"envoyGateway": {"rateLimit": {"backend": {"type": "Redis"}}}}}
        )
        == []
    )
    assert (
        unknown_keys("envoy-gateway", {"crds": {"gatewayAPI": {"safeUpgradePolicy": {"enabled": True}}}})
        == []
    )
    assert unknown_keys("envoy-gateway", {"config": {"envoyGateway": {"rateLimits": {"x": 1}}}}) == [
        "config.envoyGateway.rateLimits.x"
    ]
    assert unknown_keys("inferencepool", {"inferenceExtension": {"replicas": 2}}) == []
    assert unknown_keys("inferencepool", {"inferenceExtension": {"replicaz": 2}}) == [
        "inferenceExtension.replicaz"
    ]


def test_chart_key_check_catches_a_typo() -> None:
    defaults = {"tolerations": [], "resources": {}, "gfd": {"enabled": False}}
    assert exists_in_chart(defaults, "resources.requests.cpu")
    assert exists_in_chart(defaults, "gfd.enabled")
    assert not exists_in_chart(defaults, "gfd.enable")
    assert not exists_in_chart(defaults, "toleration")
    open_schema = {"properties": {"storage": {"type": "object", "additionalProperties": True}}}
    assert exists_in_chart({"storage": {"type": "s3"}}, "storage.bucketNames.chunks", open_schema)
    assert not exists_in_chart({"storage": {"type": "s3"}}, "storage.bucketNames.chunks")


def test_subchart_keys_are_checked_against_the_subchart() -> None:
    assert unknown_keys("kube-prometheus-stack", {"grafana": {"persistence": {"enabled": False}}}) == []
    assert unknown_keys("kube-prometheus-stack", {"grafana": {"persistance": {"enabled": False}}}) == [
        "grafana.persistance.enabled"
    ]
