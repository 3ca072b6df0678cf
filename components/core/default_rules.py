"""What kube-prometheus-stack may scrape and alert on in an EKS cluster running this platform.

The chart assumes a self-managed control plane. EKS runs the scheduler, the controller
manager and etcd out of the cluster's reach, and its kube-proxy add-on binds its metrics to
127.0.0.1:10249 on each node: scraping any of them fails, so their `up` is 0 or absent and
the chart's KubeSchedulerDown, KubeControllerManagerDown, etcd and KubeProxyDown alerts
(critical) would fire from the first hour, for ever. Every default rule group of the pinned
chart is listed here with the decision taken; tests/test_monitoring.py fails when an upgrade
brings a group nobody has looked at.
"""

from __future__ import annotations

from typing import Any

UNREACHABLE_COMPONENTS = {
    "kubeControllerManager": "managed by EKS outside the cluster; no endpoint to scrape",
    "kubeScheduler": "managed by EKS outside the cluster; no endpoint to scrape",
    "kubeEtcd": "managed by EKS outside the cluster; no endpoint to scrape",
    "kubeProxy": (
        "the EKS kube-proxy add-on binds its metrics to 127.0.0.1:10249, out of Prometheus's "
        "reach; its ConfigMap belongs to the add-on, which resets changes to it"
    ),
}
"""Scrape targets the chart enables by default that cannot answer on EKS."""

DISABLED_RULE_GROUPS = {
    "etcd": "no etcd to scrape (EKS)",
    "kubeControllerManager": "no controller manager to scrape (EKS)",
    "kubeSchedulerAlerting": "no scheduler to scrape (EKS)",
    "kubeSchedulerRecording": "no scheduler to scrape (EKS)",
    "kubeProxy": "kube-proxy's metrics bind to 127.0.0.1 on EKS",
    "windows": "no Windows nodes in this platform",
}
"""defaultRules.rules groups turned off, with the reason."""

KEPT_RULE_GROUPS = (
    # Prometheus, Alertmanager, the operator and its config reloaders run in the cluster.
    "alertmanager",
    "configReloaders",
    "prometheus",
    "prometheusOperator",
    # TargetDown, Watchdog and InfoInhibitor: every target left enabled can be reached.
    "general",
    "kubePrometheusGeneral",
    "kubePrometheusNodeRecording",
    # The API server's metrics are served to in-cluster clients on EKS (the `kubernetes` Service).
    "kubeApiserverAvailability",
    "kubeApiserverBurnrate",
    "kubeApiserverHistogram",
    "kubeApiserverSlos",
    # kubelet and cAdvisor answer on every node's port 10250.
    "kubelet",
    "k8sContainerCpuUsageSecondsTotal",
    "k8sContainerMemoryCache",
    "k8sContainerMemoryRss",
    "k8sContainerMemorySwap",
    "k8sContainerResource",
    "k8sContainerMemoryWorkingSetBytes",
    "k8sPodOwner",
    # kube-state-metrics and node-exporter are installed by the chart itself.
    "kubeStateMetrics",
    "kubernetesApps",
    "kubernetesResources",
    "kubernetesStorage",
    "kubernetesSystem",
    "network",
    "node",
    "nodeExporterAlerting",
    "nodeExporterRecording",
)


DISABLED_ALERTS = {
    "KubeHpaMaxedOut": (
        "fires for ever on every HPA whose minimum is its maximum (each 1..1 canary); "
        "the platform's AutoscalerAtMaximum skips those"
    ),
}
"""Single default alerts turned off (defaultRules.disabled), with the reason."""


def values() -> dict[str, Any]:
    """kube-prometheus-stack values: neither scrape nor alert on what EKS does not expose. Both
    levers are set: the component toggles drop the Services and ServiceMonitors, the rule toggles
    drop the rules even where a chart version ties them to other conditions."""
    return {
        **{component: {"enabled": False} for component in UNREACHABLE_COMPONENTS},
        "defaultRules": {
            "rules": dict.fromkeys(DISABLED_RULE_GROUPS, False),
            "disabled": dict.fromkeys(DISABLED_ALERTS, True),
        },
    }
