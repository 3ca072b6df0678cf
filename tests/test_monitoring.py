"""Monitoring, GPU telemetry and logs: charts, secrets, rules, dashboards, scraping and ordering."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import GpuNodePool, GpuTelemetry, Logs, Monitoring, versions
from components.core import alerts, default_rules, triton_alerts
from components.gpu_telemetry import TARGET_POD_LABELS
from components.monitoring import ALERTMANAGER_SECRET, ServedModelArgs
from infra.config.monitoring import AlertThresholds
from tests.conftest import RunPulumi
from tests.graph import Graph, on_aws, policy, props
from tests.iam_eval import allows
from tests.test_gpu_runtime import _tolerates
from tests.upstream import upstream_dir


def upstream_values(chart: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((upstream_dir() / "charts" / chart / "values.yaml").read_text())
    return values


PASSWORD = "grafana-not-a-real-password"
MODEL: ServedModelArgs = {
    "namespace": "team-a",
    "deployment": "llama",
    "model": "llama",
    "startup_seconds": 976,
    "may_scale_to_zero": False,
}
ROUTING = "route: {receiver: nowhere}\nreceivers: [{name: nowhere, webhook_configs: [{url: 'https://hooks.example/s3cr3t'}]}]\n"


def build_monitoring(run_pulumi: RunPulumi) -> Graph:
    def program() -> None:
        k8s_opts = pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="{}")])
        monitoring = Monitoring(
            "monitoring",
            {
                "retention_days": 30,
                "volume_gib": 500,
                "scrape_interval_seconds": 15,
                "storage_class_name": "llm-gp3",
                "grafana_admin_password": PASSWORD,
                "alertmanager_config": ROUTING,
                "thresholds": {"queue_depth": 20},
                "models": [MODEL],
            },
            k8s_opts,
        )
        GpuTelemetry(
            "dcgm-exporter",
            {
                "namespace": monitoring.namespace,
                "scrape_interval_seconds": 10,
                "monitoring_release": monitoring.release_name,
            },
            k8s_opts,
        )
        GpuNodePool(
            "h100",
            {
                "cluster_name": "c",
                "subnet_ids": ["subnet-0a"],
                "instance_types": ["p5.48xlarge"],
                "max_size": 1,
            },
            on_aws(),
        )

    return run_pulumi(program)


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build_monitoring(run_pulumi)


def release(g: Graph, chart: str) -> Any:
    return next(r for r in g.of_type("helm.sh/v3:Release") if r.props["chart"] == chart)


def test_stack_is_the_pinned_chart_with_sized_storage_and_retention(graph: Graph) -> None:
    kps = props(release(graph, "kube-prometheus-stack"))
    assert kps["version"] == versions.KUBE_PROMETHEUS_STACK.version
    spec = kps["values"]["prometheus"]["prometheusSpec"]
    assert (spec["retention"], spec["retentionSize"]) == ("30d", "450GiB")
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "llm-gp3" and claim["resources"]["requests"]["storage"] == "500Gi"
    assert spec["nodeSelector"] == {"llm-platform.io/pool": "system"}
    for selector in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{selector}SelectorNilUsesHelmValues"] is False  # monitors of every namespace


def test_secrets_reach_grafana_and_alertmanager_without_helm_values(graph: Graph) -> None:
    kps = props(release(graph, "kube-prometheus-stack"))
    values_text = json.dumps(kps["values"])
    assert PASSWORD not in values_text and "s3cr3t" not in values_text
    secrets = {props(s)["metadata"]["name"]: props(s) for s in graph.of_type("core/v1:Secret")}
    grafana = kps["values"]["grafana"]["admin"]
    assert grafana["existingSecret"] in secrets
    assert secrets[grafana["existingSecret"]]["stringData"][grafana["passwordKey"]] == "[secret]"
    assert kps["values"]["alertmanager"]["alertmanagerSpec"]["useExistingSecret"] is True
    assert ALERTMANAGER_SECRET == "alertmanager-kps-alertmanager"  # what the operator reads by default
    assert secrets[ALERTMANAGER_SECRET]["stringData"] == {"alertmanager.yaml": "[secret]"}
    for r in graph:
        assert PASSWORD not in str(props(r)) and "s3cr3t" not in str(props(r)), r.name


def test_rules_are_the_generated_ones_and_wait_for_the_crds(graph: Graph) -> None:
    rule = graph.one("monitoring.coreos.com/v1:PrometheusRule")
    thresholds = alerts.Thresholds(queue_depth=20)
    assert props(rule)["spec"]["groups"] == [
        *alerts.rule_groups(thresholds, [alerts.ServedModel(**MODEL)]),
        triton_alerts.rule_group(thresholds),
    ]
    per_model = next(g for g in props(rule)["spec"]["groups"] if g["name"] == "llm-platform.models")
    outage = next(r for r in per_model["rules"] if r["alert"] == "VLLMNoHealthyReplica")
    assert outage["labels"]["model"] == "llama" and outage["for"] == "22m"  # 976 s budget + 5 min
    assert graph.depends_on(rule, release(graph, "kube-prometheus-stack"))


def test_dashboards_are_configmaps_the_sidecar_loads(graph: Graph) -> None:
    sidecar = props(release(graph, "kube-prometheus-stack"))["values"]["grafana"]["sidecar"]["dashboards"]
    maps = graph.of_type("core/v1:ConfigMap")
    assert len(maps) == 2
    for cm in maps:
        assert props(cm)["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
        for text in props(cm)["data"].values():
            assert json.loads(text)["panels"]


def test_dcgm_exporter_runs_on_gpu_nodes_only_and_keeps_pod_labels(graph: Graph) -> None:
    dcgm = props(release(graph, "dcgm-exporter"))
    assert dcgm["version"] == versions.DCGM_EXPORTER.version
    placement = graph.one("eks/nodeGroup:NodeGroup").props
    selector = dcgm["values"]["nodeSelector"]
    assert selector.items() <= placement["labels"].items()
    assert all(
        _tolerates(dcgm["values"]["tolerations"], {**t, "effect": "NoSchedule"}) for t in placement["taints"]
    )
    system_node = {"llm-platform.io/pool": "system"}
    assert not selector.items() <= system_node.items()
    assert "SYS_ADMIN" in dcgm["values"]["podAnnotations"]["llm-platform.io/privileges"]
    monitor = graph.one("monitoring.coreos.com/v1:ServiceMonitor")
    (endpoint,) = props(monitor)["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True and endpoint["interval"] == "10s"
    # The exporter's own pod labels are dropped, so only a GPU held by a pod carries `pod`.
    (drop,) = endpoint["relabelings"]
    assert drop["action"] == "labeldrop"
    dropped = re.compile(drop["regex"])
    assert all(dropped.fullmatch(label) for label in ("namespace", "pod", "container"))
    assert not any(dropped.fullmatch(label) for label in ("Hostname", "gpu", "UUID", "job", "instance"))
    assert drop["regex"] == TARGET_POD_LABELS
    assert graph.depends_on(monitor, release(graph, "kube-prometheus-stack"))


def test_nothing_eks_keeps_out_of_reach_is_scraped_or_alerted_on(graph: Graph) -> None:
    """On EKS the controller manager, scheduler and etcd are not in the cluster and kube-proxy's
    metrics bind to 127.0.0.1: their Down alerts (critical) would page for ever."""
    values = props(release(graph, "kube-prometheus-stack"))["values"]
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[component]["enabled"] is False, component
    rules = values["defaultRules"]["rules"]
    for group in (
        "etcd",
        "kubeControllerManager",
        "kubeSchedulerAlerting",
        "kubeSchedulerRecording",
        "kubeProxy",
    ):
        assert rules[group] is False, group
    # A canary's 1..1 HPA is always at its maximum: the chart's alert would notify for ever.
    assert values["defaultRules"]["disabled"] == {"KubeHpaMaxedOut": True}
    # Nothing that works on EKS is turned off with them: the API server, kubelet, KSM, nodes.
    assert not set(rules) & {"kubeApiserverAvailability", "kubelet", "kubernetesApps", "node", "general"}


def test_every_default_rule_group_of_the_pinned_chart_was_decided() -> None:
    """A chart upgrade that adds a rule group fails here until someone checks it against EKS."""
    pinned = upstream_values("kube-prometheus-stack")["defaultRules"]["rules"]
    decided = set(default_rules.DISABLED_RULE_GROUPS) | set(default_rules.KEPT_RULE_GROUPS)
    assert not set(default_rules.DISABLED_RULE_GROUPS) & set(default_rules.KEPT_RULE_GROUPS)
    assert decided == set(pinned)
    for component in default_rules.UNREACHABLE_COMPONENTS:
        assert upstream_values("kube-prometheus-stack")[component]["enabled"] is True  # on by default


def test_config_thresholds_and_core_thresholds_have_the_same_fields() -> None:
    assert set(AlertThresholds.model_fields) == set(alerts.Thresholds.__dataclass_fields__)
    assert alerts.Thresholds(**AlertThresholds().model_dump()) == alerts.Thresholds()


def test_logs_go_to_a_private_bucket_loki_alone_may_use(run_pulumi: RunPulumi) -> None:
    def program() -> None:
        providers = [aws.Provider("aws", region="us-east-1"), k8s.Provider("k8s", kubeconfig="{}")]
        Logs(
            "llm-test",
            {
                "namespace": "monitoring",
                "cluster_name": "llm-test",
                "cluster_arn": "arn:aws:eks:us-east-1:123456789012:cluster/llm-test",
                "region": "us-east-1",
                "retention_days": 90,
                "storage_class_name": "llm-gp3",
            },
            pulumi.ResourceOptions(providers=providers),
        )

    g = run_pulumi(program)
    bucket = g.one("s3/bucket:Bucket")
    loki = props(release(g, "loki"))
    assert loki["values"]["loki"]["storage"]["bucketNames"]["chunks"] == bucket.state["bucket"]
    assert loki["values"]["loki"]["structuredConfig"]["limits_config"]["retention_period"] == "2160h"
    assert loki["values"]["loki"]["compactor"]["retention_enabled"] is True
    rules = props(g.one("BucketLifecycleConfiguration"))["rules"]
    assert {"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": 97}} in rules
    assert (
        props(g.one("BucketServerSideEncryptionConfiguration"))["rules"][0][
            "applyServerSideEncryptionByDefault"
        ]["sseAlgorithm"]
        == "aws:kms"
    )
    association = props(g.one("eks/podIdentityAssociation:PodIdentityAssociation"))
    assert (association["namespace"], association["serviceAccount"]) == (
        "monitoring",
        loki["values"]["serviceAccount"]["name"],
    )
    doc = policy(g.one("iam/rolePolicy:RolePolicy"), "policy")
    arn = bucket.state["arn"]
    assert allows(doc, "s3:PutObject", f"{arn}/fake/chunk")
    assert allows(doc, "s3:DeleteObject", f"{arn}/fake/chunk")
    assert not allows(doc, "s3:PutObject", "arn:aws:s3:::models-bucket/models/x")
    alloy = props(release(g, "alloy"))["values"]
    assert alloy["controller"]["type"] == "daemonset"
    assert alloy["controller"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert alloy["alloy"]["mounts"]["varlog"] is True
    assert (
        "http://loki.monitoring.svc.cluster.local:3100/loki/api/v1/push"
        in alloy["alloy"]["configMap"]["content"]
    )
    assert g.depends_on(release(g, "alloy"), release(g, "loki"))


def test_alloy_config_is_well_formed_river() -> None:
    from components.logs import alloy_config

    text = alloy_config("http://loki:3100/loki/api/v1/push")
    assert text.count("{") == text.count("}")
    for block in (
        "discovery.kubernetes",
        "discovery.relabel",
        "local.file_match",
        "loki.source.file",
        "loki.write",
    ):
        assert block in text


def test_each_models_outage_alert_waits_out_its_startup_probe(stack_graph: Graph, stack_name: str) -> None:
    """VLLMNoHealthyReplica of every served model waits longer than the startupProbe lets its
    Deployment load (plus a node launch), names that Deployment, and in dev, where the model
    scales to zero at night, ignores a Deployment at zero."""
    groups = props(stack_graph.one("monitoring.coreos.com/v1:PrometheusRule", "monitoring-rules"))["spec"][
        "groups"
    ]
    outage = {
        r["labels"]["model"]: r
        for g in groups
        if g["name"] == "llm-platform.models"
        for r in g["rules"]
        if r["alert"] == "VLLMNoHealthyReplica"
    }
    served = [
        props(d)
        for d in stack_graph.of_type("apps/v1:Deployment")
        if props(d)["spec"]["template"]["spec"]["containers"][0]["name"] in ("vllm", "triton")
        and not props(d)["metadata"]["name"].endswith("-canary")
    ]
    assert served and sorted(outage) == sorted(d["metadata"]["name"] for d in served)
    for d in served:
        rule = outage[d["metadata"]["name"]]
        probe = d["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
        assert (
            int(rule["for"].removesuffix("m")) * 60
            >= probe["failureThreshold"] * probe["periodSeconds"] + 300
        )
        assert (
            f'namespace="{d["metadata"]["namespace"]}",deployment="{d["metadata"]["name"]}"' in rule["expr"]
        )
    if stack_name == "dev":  # qwen-7b: minReplicas 0 with working hours
        assert ">= 1)" in outage["qwen-7b"]["expr"]
