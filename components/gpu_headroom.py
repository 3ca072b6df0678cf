"""GpuHeadroom: warm GPU capacity on one pool that a real replica takes over in seconds.

Placeholder pods of negative priority hold the GPUs, CPU and memory of one
replica on the pool and run the serving image (so it is on the node). When a
scale-up needs the room, the scheduler preempts a placeholder at once (grace
0) and the replica starts on a node that is up and has the image; the
placeholder goes Pending, and Karpenter launches a node for it in the
background. The spike never waits for a node or an image pull.

The placeholders live in a namespace of their own, not in the tenants': a
tenant's ResourceQuota counts every pod in its namespace, so a placeholder
there would use the quota the real replica needs and admission would refuse
the replica before the scheduler could preempt anything.
"""

from collections.abc import Sequence
from typing import Any, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.core.security_context import hardened_container, non_root_pod
from components.gpu_node_pool import PlacementOutput

HEADROOM = "gpu-headroom"
"""Component label value of the placeholder pods."""
# Below every workload (default priority 0), so any pod preempts a placeholder; a placeholder
# itself never preempts anything (preemptionPolicy Never), it only waits for room.
PRIORITY = -10
RUN_AS = 10001  # any non-root user: the placeholder only sleeps


class GpuHeadroomArgs(TypedDict, total=False):
    placement: Required[pulumi.Input[PlacementOutput]]
    """The pool's placement output (GpuNodePool.placement)."""
    replicas: Required[int]
    """Placeholders to keep: replicas a spike gets without waiting for a node."""
    gpus: Required[int]
    """GPUs of one replica (the largest replica the pool serves)."""
    cpu: Required[str]
    """CPU of one replica, a Kubernetes quantity."""
    memory: Required[str]
    """Memory of one replica, a Kubernetes quantity."""
    images: Required[Sequence[str]]
    """Serving images the pool's replicas run: each is kept on the node by a container of its own."""


class GpuHeadroom(pulumi.ComponentResource):
    """Negative-priority placeholders on one GPU pool, in a namespace named after the component."""

    namespace: pulumi.Output[str]
    """The placeholders' namespace."""
    priority_class_name: pulumi.Output[str]
    """The placeholders' PriorityClass."""

    def __init__(self, name: str, args: GpuHeadroomArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:GpuHeadroom", name, None, opts)
        if args["replicas"] < 1 or args["gpus"] < 1 or not args["images"]:
            raise ValueError(f"{name}: replicas >= 1, gpus >= 1 and at least one image")
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=_k8s.meta(
                name, labels={**labels.PART_OF, "pod-security.kubernetes.io/enforce": "restricted"}
            ),
            opts=child,
        )
        namespace = ns.metadata.apply(lambda m: str(m["name"]))
        priority = k8s.scheduling.v1.PriorityClass(
            f"{name}-priority",
            metadata=_k8s.meta(name, labels=labels.PART_OF),
            value=PRIORITY,
            global_default=False,
            preemption_policy="Never",
            description="GPU headroom placeholders: preempted by any workload that needs their room.",
            opts=child,
        )
        # Placeholders talk to nothing and nothing talks to them.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-deny-all",
            metadata=_k8s.meta("deny-all", namespace, labels.PART_OF),
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=child,
        )
        # The GPUs the placeholders may hold, and no more: a typo in a replica count cannot
        # take a pool's GPUs from the tenants.
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=_k8s.meta(HEADROOM, namespace, labels.PART_OF),
            spec={"hard": {"requests.nvidia.com/gpu": str(args["replicas"] * args["gpus"])}},
            opts=child,
        )
        priority_name = priority.metadata.apply(lambda m: str(m["name"]))
        selector = {labels.NAME: name, labels.COMPONENT: HEADROOM}
        k8s.apps.v1.Deployment(
            name,
            metadata=_k8s.meta(
                name,
                namespace,
                {**selector, **labels.PART_OF},
                _k8s.checkov_skips(
                    _k8s.PINNED_TAG,
                    _k8s.PULL_IF_NOT_PRESENT,
                    ("CKV_K8S_8", "a placeholder serves nothing: there is no liveness to probe"),
                    (
                        "CKV_K8S_9",
                        "a placeholder serves nothing and has no Service: readiness routes no traffic",
                    ),
                ),
            ),
            spec={
                "replicas": args["replicas"],
                "selector": {"matchLabels": selector},
                # Placeholders are interchangeable: replace them all at once, no surge of GPUs.
                "strategy": {"type": "Recreate"},
                "template": {
                    "metadata": {"labels": {**selector, **labels.PART_OF}},
                    "spec": _pod_spec(args, priority_name),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[priority]),
        )
        self.namespace = namespace
        self.priority_class_name = priority_name
        self.register_outputs({"namespace": namespace, "priority_class_name": priority_name})


def _pod_spec(args: GpuHeadroomArgs, priority_name: pulumi.Input[str]) -> dict[str, Any]:
    placement = pulumi.Output.from_input(args["placement"])
    held = {"nvidia.com/gpu": str(args["gpus"]), "cpu": args["cpu"], "memory": args["memory"]}
    # Containers after the first only keep their image on the node: the smallest request.
    keep = {"cpu": "10m", "memory": "16Mi"}
    return {
        "priorityClassName": priority_name,
        # Preemption frees the room now, not after a grace period: the placeholder holds no state.
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "nodeSelector": placement.apply(lambda p: p["node_selector"]),
        "tolerations": placement.apply(lambda p: p["tolerations"]),
        "securityContext": non_root_pod(RUN_AS),
        "containers": [
            {
                "name": f"hold-{i}",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                # The serving images have coreutils; sleep keeps the image in use, so the
                # kubelet's image garbage collection never removes it from the node.
                "command": ["sleep", "infinity"],
                "resources": {"requests": held if i == 0 else keep, "limits": held if i == 0 else keep},
                "securityContext": hardened_container(),
            }
            for i, image in enumerate(dict.fromkeys(args["images"]))
        ],
    }
