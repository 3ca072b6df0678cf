"""GpuRuntime: the NVIDIA device plugin, which makes nvidia.com/gpu a schedulable resource."""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core.placement import GPU_PRESENT_LABEL, GPU_TAINT_KEY
from components.versions import NVIDIA_DEVICE_PLUGIN


class GpuRuntimeArgs(TypedDict, total=False):
    namespace: str
    """Namespace to create for the plugin (default: the component name)."""
    chart_source: _k8s.ChartSourceArgs
    """Install the device plugin chart from a mirror or a local path (default: its public repository; the pinned version either way)."""


def device_plugin_values() -> dict[str, Any]:
    """Helm values of the device plugin: on GPU nodes only, through their taint."""
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": GPU_PRESENT_LABEL, "operator": "In", "values": ["true"]}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
        "priorityClassName": "system-node-critical",
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
        # GPU feature discovery (and the node-feature-discovery it pulls in) is not needed:
        # the node group labels its nodes with the pool and GPU model itself.
        "gfd": {"enabled": False},
    }


class GpuRuntime(pulumi.ComponentResource):
    """The NVIDIA device plugin DaemonSet, running on every GPU node and nowhere else."""

    namespace: pulumi.Output[str]
    """Namespace of the device plugin."""
    release_name: pulumi.Output[str]
    """The device plugin's Helm release."""

    def __init__(self, name: str, args: GpuRuntimeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:GpuRuntime", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": args.get("namespace", name),
                "labels": {
                    # The plugin mounts the kubelet's device-plugin socket directory from the host,
                    # which only the privileged Pod Security level admits.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "privileged",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        release = _k8s.helm_release(
            name,
            NVIDIA_DEVICE_PLUGIN,
            name=name,
            namespace=namespace.metadata["name"],
            values=device_plugin_values(),
            source=args.get("chart_source"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = namespace.metadata.apply(lambda m: str(m["name"]))
        self.release_name = release.name.apply(lambda n: str(n))
        self.register_outputs({"namespace": self.namespace, "release_name": self.release_name})
