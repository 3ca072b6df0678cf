"""EndpointPicker: a model's InferencePool and the endpoint picker that routes within it.

In the model's (tenant's) namespace, since a pool selects pods of its own namespace: the
InferencePool over the model's serving pods, and the picker (Deployment, Service, ConfigMap,
ServiceAccount, Role) the AI gateway asks which pod takes each request. The data, and why it is
not the upstream chart, are in components/core/endpoint_picker.py.
"""

from typing import Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import endpoint_picker as epp
from components.core import labels
from components.versions import ENDPOINT_PICKER_IMAGE

WATCHES_THE_API = (
    "CKV_K8S_38",
    "the picker watches its InferencePool and the pool's pods through the API server (a Role of reads in its namespace)",
)


class EndpointPickerArgs(TypedDict, total=False):
    namespace: Required[pulumi.Input[str]]
    """The model's namespace."""
    model: Required[str]
    """Served model name (names the pool and the picker)."""
    selector: Required[dict[str, str]]
    """Labels of the pods the pool routes to (the model's stable track)."""
    target_port: Required[int]
    """The port vLLM serves on."""
    node_selector: Required[dict[str, str]]
    """Where the picker runs (the system nodes: it needs no GPU)."""
    pool_crds: Required[pulumi.Input[str]]
    """Resolves once the InferencePool CRD is installed (AiGateway.release_name)."""
    replicas: int
    """Picker replicas, each picking for part of the requests (default 2: the model fails while
    none is ready, see components/core/endpoint_picker.py)."""
    monitoring_release: pulumi.Input[str]
    """Monitoring.release_name: the picker's metrics are scraped (absent: not)."""
    image: str
    """The picker image (default: the pinned release)."""


class EndpointPicker(pulumi.ComponentResource):
    """A model's InferencePool and its endpoint picker (prefix-cache, queue and KV-cache aware)."""

    pool_name: pulumi.Output[str]
    """The InferencePool: what the model's AIGatewayRoute sends to."""

    def __init__(
        self, name: str, args: EndpointPickerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("llmplatform:index:EndpointPicker", name, None, opts)
        ns, model = args["namespace"], args["model"]
        picker = epp.picker_name(model)
        replicas = args.get("replicas", 2)
        pod_labels = {**labels.standard(picker, epp.COMPONENT), epp.MODEL_LABEL: model}
        selector = {labels.NAME: picker}
        child = pulumi.ResourceOptions(parent=self)

        account = k8s.core.v1.ServiceAccount(
            f"{name}-account",
            # Platform-owned: tenant admission refuses tenants' pods running as it.
            metadata=_k8s.meta(picker, ns, {**pod_labels, **labels.platform_owned()}),
            opts=child,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=_k8s.meta(picker, ns, pod_labels),
            rules=epp.picker_role_rules(),
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-role-binding",
            metadata=_k8s.meta(picker, ns, pod_labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": picker},
            subjects=[{"kind": "ServiceAccount", "name": picker, "namespace": ns}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role, account]),
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=_k8s.meta(picker, ns, pod_labels),
            data={epp.CONFIG_FILE: epp.plugins_config()},
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=_k8s.meta(picker, ns, pod_labels),
            spec={
                "selector": selector,
                "ports": [
                    {"name": "grpc-ext-proc", "port": epp.EXT_PROC_PORT, "targetPort": epp.EXT_PROC_PORT},
                    {"name": "http-metrics", "port": epp.METRICS_PORT, "targetPort": epp.METRICS_PORT},
                ],
            },
            opts=child,
        )
        pool = k8s.apiextensions.CustomResource(
            f"{name}-pool",
            api_version=epp.POOL_API,
            kind="InferencePool",
            metadata=_k8s.meta(model, ns, pod_labels, _k8s.installed_by(args["pool_crds"])),
            spec=service.metadata.apply(
                lambda m: epp.pool_spec(args["selector"], args["target_port"], str(m["name"]))
            ),
            opts=child,
        )
        pod = pulumi.Output.all(ns, config.metadata).apply(
            lambda a: epp.picker_pod_spec(
                model,
                str(a[0]),
                args.get("image", ENDPOINT_PICKER_IMAGE),
                args["node_selector"],
                str(a[1]["name"]),
            )
        )
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=_k8s.meta(
                picker,
                ns,
                pod_labels,
                _k8s.checkov_skips(_k8s.PINNED_TAG, _k8s.PULL_IF_NOT_PRESENT, WATCHES_THE_API),
            ),
            spec={
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                # Never fewer ready pickers than asked for: a new one is ready before an old goes.
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {"metadata": {"labels": pod_labels}, "spec": pod},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, pool]),
        )
        if replicas > 1:  # with one, a budget of one would block every drain of its node
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-disruption-budget",
                metadata=_k8s.meta(picker, ns, pod_labels),
                spec={"minAvailable": 1, "selector": {"matchLabels": selector}},
                opts=child,
            )
        if "monitoring_release" in args:
            k8s.apiextensions.CustomResource(
                f"{name}-metrics",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata=_k8s.meta(picker, ns, pod_labels, _k8s.installed_by(args["monitoring_release"])),
                spec={
                    "selector": {"matchLabels": selector},
                    "podMetricsEndpoints": [
                        {
                            "port": "metrics",
                            "path": "/metrics",
                            "relabelings": [
                                {"action": "replace", "targetLabel": "job", "replacement": epp.JOB},
                                {
                                    "action": "replace",
                                    "sourceLabels": ["__meta_kubernetes_pod_label_llm_platform_io_model"],
                                    "targetLabel": "model",
                                },
                            ],
                        }
                    ],
                },
                opts=child,
            )

        self.pool_name = pool.metadata.apply(lambda m: str(m["name"]))
        self.register_outputs({"pool_name": self.pool_name})
