"""Tenant: a team's namespace with quotas, container defaults, network isolation and edit rights."""

from collections.abc import Sequence
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.core.placement import GPU_RESOURCE
from components.tenant_access import tenant_access
from components.tenant_network import network_policies
from components.versions import KUBERNETES_VERSION

# vLLM runs as a non-root user with every capability dropped, no privilege
# escalation and the RuntimeDefault seccomp profile; GPUs reach it through the
# device plugin, not through privileges or host paths. So tenants get the
# strictest Pod Security level, `restricted`, enforced.
POD_SECURITY_LEVEL = "restricted"


class TenantArgs(TypedDict, total=False):
    gpus: Required[int]
    """GPUs the namespace may request (requests.nvidia.com/gpu)."""
    cpu: Required[str]
    """CPU requests and limits the namespace may sum to."""
    memory: Required[str]
    """Memory requests and limits the namespace may sum to."""
    pods: int
    """Most pods (default 50)."""
    persistent_volume_claims: int
    """Most PVCs (default 10)."""
    default_cpu_request: str
    """CPU request of a container that sets none (default 100m)."""
    default_cpu_limit: str
    """CPU limit of a container that sets none (default 1)."""
    default_memory_request: str
    """Memory request of a container that sets none (default 256Mi)."""
    default_memory_limit: str
    """Memory limit of a container that sets none (default 1Gi)."""
    group: str
    """Kubernetes group given edit rights in the namespace (default tenant-<name>)."""
    cluster_name: Required[pulumi.Input[str]]
    """EKS cluster, for the access entries of access_role_arns."""
    access_role_arns: Sequence[str]
    """IAM roles mapped into `group` by EKS access entries."""
    load_balancer_cidrs: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Where load balancers send traffic from (the public subnets): admitted to the model port."""
    storage_cidrs: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Where EFS mount targets live (the private subnets): reachable over NFS."""
    gateway_namespace: str
    """Namespace of the AI gateway's proxies (components.core.gateway.CONTROLLER_NAMESPACE). When set,
    the model port admits those proxies instead of the load balancers: nothing reaches a model
    except through the gateway."""
    s3_cidrs: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Where S3 answers in the region, reachable on 443 by pods labelled llm-platform.io/s3-egress
    (default: the CIDRs of the region's S3 prefix list, com.amazonaws.<region>.s3, read at deploy time)."""


class Tenant(pulumi.ComponentResource):
    """Namespace `name`, isolated by default.

    Quotas cap GPUs, CPU, memory, pods and claims and forbid load balancer and
    node port services (traffic enters through the platform's gateway). A
    LimitRange gives containers that set nothing sane requests and limits.
    Network policies deny everything, then allow DNS, credentials from the Pod
    Identity agent, the model port from load balancers and Prometheus, NFS to
    EFS, HTTPS to the region's S3 addresses for serving pods that stream weights, and HTTPS
    to public addresses for the pods labelled for it (the weights sync Job).
    """

    namespace: pulumi.Output[str]
    """The tenant's namespace."""

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:Tenant", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            name,
            metadata={
                "name": name,
                "labels": {
                    **labels.PART_OF,
                    "llm-platform.io/tenant": name,
                    **{
                        f"pod-security.kubernetes.io/{mode}": POD_SECURITY_LEVEL
                        for mode in ("enforce", "audit", "warn")
                    },
                    "pod-security.kubernetes.io/enforce-version": f"v{KUBERNETES_VERSION}",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        ns = namespace.metadata.apply(lambda m: str(m["name"]))
        in_ns = pulumi.ResourceOptions(parent=self)

        cpu, memory = args["cpu"], args["memory"]
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=_k8s.meta("tenant-quota", ns),
            spec={
                "hard": {
                    f"requests.{GPU_RESOURCE}": str(args["gpus"]),
                    "requests.cpu": cpu,
                    "limits.cpu": cpu,
                    "requests.memory": memory,
                    "limits.memory": memory,
                    "pods": str(args.get("pods", 50)),
                    "persistentvolumeclaims": str(args.get("persistent_volume_claims", 10)),
                    # Traffic enters through the platform's gateway, never a tenant's own.
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            },
            opts=in_ns,
        )
        k8s.core.v1.LimitRange(
            f"{name}-defaults",
            metadata=_k8s.meta("container-defaults", ns),
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": {
                            "cpu": args.get("default_cpu_request", "100m"),
                            "memory": args.get("default_memory_request", "256Mi"),
                        },
                        "default": {
                            "cpu": args.get("default_cpu_limit", "1"),
                            "memory": args.get("default_memory_limit", "1Gi"),
                        },
                    }
                ]
            },
            opts=in_ns,
        )
        s3_cidrs = args["s3_cidrs"] if "s3_cidrs" in args else s3_prefix_list_cidrs(self)
        for policy_name, spec in network_policies(
            args["load_balancer_cidrs"], args["storage_cidrs"], s3_cidrs, args.get("gateway_namespace")
        ).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=_k8s.meta(policy_name, ns),
                spec=spec,
                opts=in_ns,
            )

        group = args.get("group", f"tenant-{name}")
        # The tenant's own Role (not `edit`: no NetworkPolicy, quota, RBAC writes), and
        # admission refusing its pods the platform's ServiceAccounts and its changes to the
        # platform's objects in the namespace.
        tenant_access(name, ns, group, self)
        for arn in args.get("access_role_arns", []):
            aws.eks.AccessEntry(
                f"{name}-access-{arn.rsplit('/', 1)[-1]}",
                cluster_name=args["cluster_name"],
                principal_arn=arn,
                type="STANDARD",
                kubernetes_groups=[group],
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.namespace = ns
        self.register_outputs({"namespace": self.namespace})


def s3_prefix_list_cidrs(parent: pulumi.Resource) -> pulumi.Output[list[str]]:
    """The region's S3 addresses: the AWS-managed prefix list the S3 gateway endpoint routes."""
    opts = pulumi.InvokeOutputOptions(parent=parent)
    name = aws.get_region_output(opts=opts).region.apply(lambda r: f"com.amazonaws.{r}.s3")
    return aws.ec2.get_prefix_list_output(name=name, opts=opts).cidr_blocks.apply(list)
