"""Every component built twice in one stack: no URN and no physical name may collide.

Mocks accept any name; AWS and Kubernetes do not. So this test collects the
names the clouds would see (explicit AWS names, Kubernetes kind/namespace/name,
Helm release names) and requires each to be unique.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pulumi

from components import (
    Cluster,
    GpuNodePool,
    GpuRuntime,
    InferenceService,
    IngressGateway,
    Keda,
    ModelStore,
    ModelWeights,
    Network,
    Tenant,
)
from infra.plan.mocks import Registration
from tests.conftest import RunPulumi
from tests.graph import on_aws, on_k8s


def physical_names(r: Registration) -> list[str]:
    if r.type.startswith("kubernetes:helm.sh/"):
        return [f"helm/{r.props.get('namespace')}/{r.props['name']}"]
    if r.type.startswith("kubernetes:"):
        meta: dict[str, Any] = r.props.get("metadata", {})
        return [f"{r.props['kind']}/{meta.get('namespace', '')}/{meta['name']}"]
    names = []
    for key in ("name", "nodeGroupName", "bucket"):
        if key in r.state and isinstance(r.state[key], str):
            names.append(f"{r.type}/{r.state[key]}")
    if r.type == "aws:eks/addon:Addon":
        names.append(f"addon/{r.props['clusterName']}/{r.props['addonName']}")
    if r.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
        names.append(
            f"pod-identity/{r.props['clusterName']}/{r.props['namespace']}/{r.props['serviceAccount']}"
        )
    if r.type == "aws:eks/accessEntry:AccessEntry":
        names.append(f"access/{r.props['clusterName']}/{r.props['principalArn']}")
    return names


def test_each_component_twice_collides_nowhere(run_pulumi: RunPulumi) -> None:
    def program() -> None:
        aws_opts, k8s_opts = on_aws(), on_k8s()
        both = pulumi.ResourceOptions(providers=[*aws_opts.providers, *k8s_opts.providers])
        for n in ("one", "two"):
            net = Network(
                f"net-{n}",
                {
                    "cluster_name": f"eks-{n}",
                    "availability_zones": ["us-east-1a", "us-east-1b"],
                    "vpc_cidr": "10.40.0.0/16",
                },
                aws_opts,
            )
            cluster = Cluster(
                f"eks-{n}",
                {
                    "subnet_ids": net.private_subnet_ids,
                    "admin_arns": ["arn:aws:iam::111111111111:role/admin"],
                },
                aws_opts,
            )
            pool = GpuNodePool(
                f"eks-{n}-gpu",
                {
                    "cluster_name": cluster.cluster_name,
                    "subnet_ids": net.private_subnet_ids,
                    "instance_types": ["g6.xlarge"],
                    "max_size": 1,
                },
                aws_opts,
            )
            GpuRuntime(f"gpu-runtime-{n}", {}, k8s_opts)
            store = ModelStore(
                f"eks-{n}",
                {
                    "cluster_name": cluster.cluster_name,
                    "cluster_arn": cluster.cluster_arn,
                    "vpc_id": net.vpc_id,
                    "subnets_by_zone": net.private_subnets_by_zone,
                    "system_node_group_name": cluster.system_node_group_name,
                    "node_security_group_id": cluster.cluster_security_group_id,
                    "access_log_retention_days": 30,
                },
                both,
            )
            tenant = Tenant(
                f"team-{n}",
                {
                    "gpus": 1,
                    "cpu": "4",
                    "memory": "16Gi",
                    "cluster_name": cluster.cluster_name,
                    "access_role_arns": [f"arn:aws:iam::111111111111:role/team-{n}"],
                    "load_balancer_cidrs": net.public_subnet_cidrs,
                    "storage_cidrs": net.private_subnet_cidrs,
                },
                both,
            )
            weights = ModelWeights(
                f"model-{n}",
                {
                    "namespace": tenant.namespace,
                    "cluster_name": cluster.cluster_name,
                    "cluster_arn": cluster.cluster_arn,
                    "bucket_name": store.bucket_name,
                    "bucket_arn": store.bucket_arn,
                    "kms_key_arn": store.kms_key_arn,
                    "revision": "v1",
                    "storage_class_name": store.storage_class_name,
                },
                both,
            )
            keda = Keda(f"keda-{n}", {}, k8s_opts)
            gateway = IngressGateway(
                f"edge-{n}",
                {
                    "cluster_name": cluster.cluster_name,
                    "cluster_arn": cluster.cluster_arn,
                    "vpc_id": net.vpc_id,
                    "region": "us-east-1",
                    "domain": f"{n}.example.com",
                    "certificate_arn": "arn:aws:acm:us-east-1:111111111111:certificate/abc",
                },
                both,
            )
            claim = weights.claim_name
            assert claim is not None
            InferenceService(
                f"model-{n}",
                {
                    "namespace": tenant.namespace,
                    "placement": pool.placement,
                    "serve": {"served_model_name": f"model-{n}", "tensor_parallel_size": 1},
                    "model_uri": weights.model_uri,
                    "resources": {"cpu_millicores": 3000, "memory_mib": 12288, "shm_mib": 2048},
                    "startup_seconds": 600,
                    "service_account_name": weights.service_account_name,
                    "claim_name": claim,
                    "weights_ready": weights.ready,
                    "api_key": "k",
                    "autoscaling": {"min_replicas": 1, "max_replicas": 1},
                    "prometheus_url": "http://prometheus:9090",
                    "keda_release": keda.release_name,
                    "route": {
                        "gateway_name": gateway.gateway_name,
                        "gateway_namespace": gateway.gateway_namespace,
                        "hostname": f"model-{n}.{n}.example.com",
                    },
                },
                k8s_opts,
            )

    graph = run_pulumi(program)
    urns = Counter(r.urn for r in graph)
    assert [u for u, n in urns.items() if n > 1] == []
    names = Counter(name for r in graph if r.custom and not r.is_provider for name in physical_names(r))
    assert [name for name, n in names.items() if n > 1] == []
    # the check sees the names that matter: the clusters, node groups and namespaces
    assert {"aws:eks/cluster:Cluster/eks-one", "aws:eks/cluster:Cluster/eks-two"} <= set(names)
    assert "Namespace//gpu-runtime-one" in names
    assert "StorageClass//eks-one-efs" in names and "Job/team-two/model-two-sync-v1" in names
    assert "helm/kube-system/edge-one-lbc" in names and "Deployment/team-one/model-one" in names
