"""The whole program for dev and prod: providers, ordering, protection and the environments' differences."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from infra.plan.mocks import Registration
from tests.conftest import REPO
from tests.graph import Graph, props


def _provider_type(g: Graph, r: Registration) -> str:
    assert r.provider, f"{r.type} {r.name} has no explicit provider"
    return g.by_urn(r.provider.rsplit("::", 1)[0]).type


def test_project_disables_default_providers_and_runs_infra() -> None:
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "llm-platform"
    assert project["main"] == "infra/"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
    assert project["config"]["pulumi:disable-default-providers"]["value"] == ["*"]
    assert project["description"]


def test_every_resource_names_its_provider(stack_graph: Graph) -> None:
    for r in stack_graph:
        if not r.custom or r.is_provider:
            continue
        expected = "pulumi:providers:" + r.type.split(":")[0]
        assert _provider_type(stack_graph, r) == expected, r.urn


def test_kubernetes_objects_wait_for_cluster_access_and_dns(stack_graph: Graph) -> None:
    association = stack_graph.of_type("eks/accessPolicyAssociation:AccessPolicyAssociation")[0]
    for r in stack_graph:
        if r.custom and r.type.startswith("kubernetes:"):
            provider = stack_graph.by_urn(r.provider.rsplit("::", 1)[0])  # type: ignore[union-attr]
            assert stack_graph.depends_on(provider, association)


def _node_pools(stack_graph: Graph) -> dict[str, dict[str, Any]]:
    """Karpenter NodePools by the pool label their nodes carry."""
    return {
        props(p)["spec"]["template"]["metadata"]["labels"]["llm-platform.io/pool"]: props(p)
        for p in stack_graph.of_type("karpenter.sh/v1:NodePool")
    }


def test_gpu_pools_are_karpenter_node_pools_that_wait_for_karpenter(stack_graph: Graph) -> None:
    release = next(
        r for r in stack_graph.of_type("helm.sh/v3:Release") if r.props["chart"].endswith("/karpenter")
    )
    pools = stack_graph.of_type("karpenter.sh/v1:NodePool")
    classes = stack_graph.of_type("karpenter.k8s.aws/v1:EC2NodeClass")
    assert pools and len(pools) == len(classes)
    for resource in [*pools, *classes]:
        assert stack_graph.depends_on(resource, release), resource.name
    # no GPU managed node group: Karpenter launches them all
    assert not [
        g for g in stack_graph.of_type("eks/nodeGroup:NodeGroup") if g.props["amiType"].endswith("NVIDIA")
    ]


def test_dev_is_small_spot_from_zero_and_prod_is_on_demand_and_protected(
    stack_name: str, stack_graph: Graph
) -> None:
    pools = _node_pools(stack_graph)

    def capacity(pool: str) -> list[str]:
        reqs = pools[pool]["spec"]["template"]["spec"]["requirements"]
        return next(r["values"] for r in reqs if r["key"] == "karpenter.sh/capacity-type")

    def instance_types(pool: str) -> list[str]:
        reqs = pools[pool]["spec"]["template"]["spec"]["requirements"]
        return next(r["values"] for r in reqs if r["key"] == "node.kubernetes.io/instance-type")

    subnets = stack_graph.of_type("ec2/subnet:Subnet")
    nats = stack_graph.of_type("ec2/natGateway:NatGateway")
    endpoint = props(stack_graph.one("eks/cluster:Cluster"))["vpcConfig"]
    assert endpoint["endpointPrivateAccess"] is True
    assert endpoint["publicAccessCidrs"] and "0.0.0.0/0" not in endpoint["publicAccessCidrs"]
    if stack_name == "dev":
        assert capacity("l4") == ["spot"]
        assert instance_types("l4") == ["g6.xlarge"]
        # from zero: no node exists until a replica needs one; at most 3 nodes' GPUs
        assert pools["l4"]["spec"]["limits"] == {"nvidia.com/gpu": "4"}
        assert (len(subnets), len(nats)) == (4, 1)
        assert not any(r.protect for r in stack_graph)
    else:
        assert set(pools) == {"l40s", "h100"} and all(capacity(p) == ["on-demand"] for p in pools)
        assert (len(subnets), len(nats)) == (6, 3)
        protected = {r.type.split(":")[-1] for r in stack_graph if r.protect}
        # the data, and the entry point: the ALB's Gateway, its configuration and namespace
        assert protected == {
            "Key",
            "Cluster",
            "LogGroup",
            "Bucket",
            "FileSystem",
            "Namespace",
            "Gateway",
            "LoadBalancerConfiguration",
        }


def test_stack_outputs_describe_the_cluster_and_pools(stack_graph: Graph, stack_name: str) -> None:
    outputs = stack_graph.outputs
    assert outputs["cluster"]["name"] == f"llm-platform-{stack_name}"
    assert outputs["cluster"]["endpoint"].startswith("https://")
    assert outputs["kubeconfig"] == "[secret]"
    pools = _node_pools(stack_graph)
    for name, pool in outputs["gpuPools"].items():
        assert pool["placement"]["tolerations"][0]["key"] == "nvidia.com/gpu"
        labels = pools[name]["spec"]["template"]["metadata"]["labels"]
        assert pool["placement"]["nodeSelector"].items() <= labels.items()


def alb(gateway: Registration) -> bool:
    """The ALB's Gateway (the AI gateway's own Gateway has no AWS parameters)."""
    return "infrastructure" in props(gateway)["spec"]


def serving(stack_graph: Graph) -> list[Registration]:
    """vLLM's Deployments (the AI gateway's Redis runs on the system nodes)."""
    return [
        d
        for d in stack_graph.of_type("apps/v1:Deployment")
        if props(d)["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
        == "inference"
    ]


def test_every_gpu_pod_selects_a_pool_and_tolerates_its_taint(stack_graph: Graph) -> None:
    pools = {
        name: p["spec"]["template"]["metadata"] | p["spec"]["template"]["spec"]
        for name, p in _node_pools(stack_graph).items()
    }
    deployments = serving(stack_graph)
    assert deployments
    for d in deployments:
        pod = props(d)["spec"]["template"]["spec"]
        pool = pools[pod["nodeSelector"]["llm-platform.io/pool"]]
        assert pod["nodeSelector"].items() <= pool["labels"].items(), d.name
        for taint in pool["taints"]:
            assert any(
                t["key"] == taint["key"] and t["value"] == taint["value"] and t["effect"] == "NoSchedule"
                for t in pod["tolerations"]
            ), d.name


def test_each_deployment_has_exactly_one_scaler_after_keda(stack_graph: Graph) -> None:
    keda = next(r for r in stack_graph.of_type("helm.sh/v3:Release") if r.props["chart"] == "keda")
    targets = [
        (props(s)["metadata"]["namespace"], props(s)["spec"]["scaleTargetRef"]["name"])
        for s in stack_graph.of_type("keda.sh/v1alpha1:ScaledObject")
    ]
    deployments = [
        (props(d)["metadata"]["namespace"], props(d)["metadata"]["name"]) for d in serving(stack_graph)
    ]
    assert sorted(targets) == sorted(deployments)
    for s in stack_graph.of_type("keda.sh/v1alpha1:ScaledObject"):
        assert stack_graph.depends_on(s, keda)


def test_serving_waits_for_weights_and_routes_wait_for_the_gateway(stack_graph: Graph) -> None:
    gateway = next(r for r in stack_graph if r.props.get("kind") == "Gateway" and alb(r))
    for route in stack_graph.of_type("gateway.networking.k8s.io/v1:HTTPRoute"):
        assert stack_graph.depends_on(route, gateway)
    jobs = {props(j)["metadata"]["name"]: j for j in stack_graph.of_type("batch/v1:Job")}
    for d in serving(stack_graph):
        weights = props(d)["spec"]["template"]["metadata"]["annotations"]["llm-platform.io/weights"]
        if weights in jobs:
            assert stack_graph.depends_on(d, jobs[weights]), d.name


def test_prod_serves_two_models_on_two_pools_with_a_canary_and_dev_one(
    stack_name: str, stack_graph: Graph
) -> None:
    routes = {
        props(r)["metadata"]["name"]: props(r)["spec"]
        for r in stack_graph.of_type("gateway.networking.k8s.io/v1:HTTPRoute")
    }
    pools = {
        props(d)["spec"]["template"]["spec"]["nodeSelector"]["llm-platform.io/pool"]
        for d in serving(stack_graph)
    }
    if stack_name == "dev":
        # one model under vLLM, the same one under Triton (the second runtime, planned end to end)
        assert sorted(routes) == ["qwen-7b", "qwen-7b-triton"]
        scalers = [props(s)["spec"] for s in stack_graph.of_type("keda.sh/v1alpha1:ScaledObject")]
        assert [s["minReplicaCount"] for s in scalers] == [0, 0]  # dev scales to zero outside working hours
        runtimes = {
            props(d)["metadata"]["name"]: [
                c["name"] for c in props(d)["spec"]["template"]["spec"]["containers"]
            ]
            for d in stack_graph.of_type("apps/v1:Deployment")
        }
        assert runtimes == {"qwen-7b": ["vllm"], "qwen-7b-triton": ["triton", "auth-proxy"]}
    else:
        # prod serves through the AI gateway: the ALB's one route goes to the proxies, and each
        # model's AIGatewayRoute keeps the canary split.
        assert set(routes) == {"ai-gateway"}
        ai_routes = {
            props(r)["metadata"]["name"]: props(r)["spec"]
            for r in stack_graph.of_type("aigateway.envoyproxy.io/v1beta1:AIGatewayRoute")
        }
        assert set(ai_routes) == {"llama-8b", "llama-70b"}
        assert pools == {"l40s", "h100"}
        backends = ai_routes["llama-8b"]["rules"][0]["backendRefs"]
        assert [(b["name"], b["weight"]) for b in backends] == [("llama-8b", 90), ("llama-8b-canary", 10)]


def test_monitors_wait_for_their_crds_and_serving_never_waits_for_monitoring(stack_graph: Graph) -> None:
    kps = next(
        r for r in stack_graph.of_type("helm.sh/v3:Release") if r.props["chart"] == "kube-prometheus-stack"
    )
    monitors = [
        r for r in stack_graph if r.props.get("kind") in ("ServiceMonitor", "PodMonitor", "PrometheusRule")
    ]
    assert {m.props["kind"] for m in monitors} == {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    for monitor in monitors:
        assert stack_graph.depends_on(monitor, kps), monitor.name
    for deployment in stack_graph.of_type("apps/v1:Deployment"):
        assert not stack_graph.depends_on(deployment, kps), deployment.name


def test_every_serving_deployment_is_scraped_as_its_runtime(stack_graph: Graph) -> None:
    monitors = {
        props(m)["metadata"]["name"]: props(m)["spec"]
        for m in stack_graph.of_type("monitoring.coreos.com/v1:PodMonitor")
    }
    for deployment in serving(stack_graph):
        pod_labels = props(deployment)["spec"]["template"]["metadata"]["labels"]
        monitor = monitors[pod_labels["app.kubernetes.io/name"]]
        assert monitor["selector"]["matchLabels"].items() <= pod_labels.items()
        endpoint = monitor["podMetricsEndpoints"][0]
        containers = {c["name"]: c for c in props(deployment)["spec"]["template"]["spec"]["containers"]}
        job = "triton" if "triton" in containers else "vllm"
        assert {"action": "replace", "targetLabel": "job", "replacement": job} in endpoint["relabelings"]
        # the scraped port is the server's own: vLLM's API port, Triton's metrics port
        ports = {p["name"]: p["containerPort"] for p in containers[job]["ports"]}
        assert endpoint["port"] in ports


def test_node_groups_tag_what_they_launch_with_the_providers_default_tags(stack_graph: Graph) -> None:
    (provider,) = stack_graph.of_type("pulumi:providers:aws")
    default_tags = json.loads(props(provider)["defaultTags"])["tags"]  # provider inputs are JSON
    assert {"project", "stack"} <= default_tags.keys()
    templates = {t.name: t for t in stack_graph.of_type("ec2/launchTemplate:LaunchTemplate")}
    for group in stack_graph.of_type("eks/nodeGroup:NodeGroup"):
        template = templates[f"{group.name}-lt"]
        specs = {s["resourceType"]: s["tags"] for s in props(template)["tagSpecifications"]}
        assert specs.keys() == {"instance", "volume", "network-interface"}, group.name
        for kind, tags in specs.items():
            assert tags.items() >= default_tags.items(), (group.name, kind)


def test_efs_csi_add_on_waits_for_the_system_nodes_like_ebs_csi(stack_graph: Graph) -> None:
    """Both controllers are Deployments: created before a node is Ready, the add-on is DEGRADED
    until its create times out."""
    addons = {a.props["addonName"]: a for a in stack_graph.of_type("eks/addon:Addon")}
    system = next(g for g in stack_graph.of_type("eks/nodeGroup:NodeGroup") if g.name.endswith("-system"))
    for name in ("aws-efs-csi-driver", "aws-ebs-csi-driver", "coredns"):
        assert stack_graph.depends_on(addons[name], system), name


def test_an_alb_with_deletion_protection_belongs_to_a_protected_gateway(
    stack_graph: Graph, stack_name: str
) -> None:
    configs = [r for r in stack_graph if r.props.get("kind") == "LoadBalancerConfiguration"]
    gateways = [r for r in stack_graph if r.props.get("kind") == "Gateway" and alb(r)]
    assert configs and gateways
    for config in configs:
        attributes = {a["key"]: a["value"] for a in props(config)["spec"]["loadBalancerAttributes"]}
        protected = attributes["deletion_protection.enabled"] == "true"
        assert protected == (stack_name == "prod")
        name = props(config)["metadata"]["name"]
        (gateway,) = [
            g for g in gateways if props(g)["spec"]["infrastructure"]["parametersRef"]["name"] == name
        ]
        for r in (config, gateway):
            assert (r.protect, r.retain_on_delete) == (protected, protected), r.name


def test_storage_classes_are_replaced_delete_first_when_an_immutable_field_changes(
    stack_name: str, planned: Callable[[str], Path]
) -> None:
    # protect flips reclaimPolicy, which Kubernetes refuses to change in place: the
    # documented teardown (protect false, then up) failed under the real engine
    classes = [
        r
        for r in json.loads((planned(stack_name) / "resources.json").read_text())
        if r["type"] == "kubernetes:storage.k8s.io/v1:StorageClass"
    ]
    assert len(classes) == 2
    for sc in classes:
        assert sc["deleteBeforeReplace"] is True, sc["name"]
        assert {"reclaimPolicy", "parameters", "provisioner"} <= set(sc["replaceOnChanges"]), sc["name"]
