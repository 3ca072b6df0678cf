"""AiGateway: Envoy Gateway with Envoy AI Gateway between the ALB and the models.

The controllers and the proxies run on the system nodes, replicated, each with a
PodDisruptionBudget; the ALB forwards only the API paths vLLM's key guards to the proxies'
Service; Redis holds the token budgets' counters. Per model, ModelGateway adds the route, its
clients' keys and budgets (components/model_gateway.py).
"""

from collections.abc import Sequence
from typing import Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components._gateway_network import gateway_network
from components._redis import redis
from components.core import gateway as gw
from components.core import gateway_auth as gw_auth
from components.core import gateway_dashboard as usage_dashboard
from components.core import gateway_network as network
from components.core import labels
from components.core.gateway_alerts import PROXY_JOB, gateway_rule_groups
from components.core.gateway_install import (
    ai_gateway_values,
    envoy_gateway_values,
    envoy_proxy_spec,
    proxy_target_group_spec,
)
from components.core.placement import ON_SYSTEM_NODES
from components.core.vllm import PUBLIC_PATH_PREFIXES
from components.versions import AI_GATEWAY, AI_GATEWAY_CRDS, ENVOY_GATEWAY, INFERENCE_POOL_CRDS


class ModelCostArgs(TypedDict):
    """Where a model's pods run, and what one of their GPUs costs an hour (on-demand)."""

    tenant: str
    """Tenant owning the model."""
    namespace: str
    """Namespace of its pods."""
    model: str
    """Model name (its pods are <model>-...)."""
    gpu_hour_usd: float
    """Price of one GPU of its pool for an hour."""


class UsageArgs(TypedDict):
    """What the per-tenant usage dashboard needs to know."""

    tenants: dict[str, list[str]]
    """Client ids by tenant."""
    models: list[ModelCostArgs]
    """Every model with its GPU-hour price."""


class AlbRouteArgs(TypedDict):
    """The ALB route of one tenant's models, to the gateway's proxies."""

    tenant: str
    """Tenant name (names the route resource)."""
    namespace: pulumi.Input[str]
    """Tenant namespace (Tenant.namespace)."""
    hostnames: list[str]
    """Its models' hostnames."""


class AiGatewayArgs(TypedDict, total=False):
    alb_gateway_name: Required[pulumi.Input[str]]
    """IngressGateway.gateway_name: the ALB Gateway the proxies are published on."""
    alb_gateway_namespace: Required[pulumi.Input[str]]
    """IngressGateway.gateway_namespace."""
    routes: Required[Sequence[AlbRouteArgs]]
    """Per tenant namespace, the hostnames the ALB forwards to the proxies (its models'
    <model>.<domain>): the ALB's listener admits routes from tenant namespaces only."""
    load_balancer_cidrs: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Where the ALB sends requests and health checks from (the public subnets): the only
    addresses the proxies admit on the listener and /ready."""
    control_plane_cidrs: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """The cluster's subnets, where EKS puts the API server's network interfaces: admitted to the
    controllers' admission webhook ports."""
    replicas: int
    """Envoy proxy replicas (default 2)."""
    monitoring_release: pulumi.Input[str]
    """Monitoring.release_name (installs the monitor and rule CRDs); absent: the gateway is not
    scraped, and gets no alert rules and no dashboard."""
    usage: UsageArgs
    """Who belongs to which tenant and what GPUs cost, for the usage dashboard."""
    envoy_gateway_chart_source: _k8s.ChartSourceArgs
    """Where the gateway-helm chart comes from (default: its public OCI repository)."""
    ai_gateway_chart_source: _k8s.ChartSourceArgs
    """Where the ai-gateway-helm chart comes from."""
    ai_gateway_crds_chart_source: _k8s.ChartSourceArgs
    """Where the ai-gateway-crds-helm chart comes from."""
    inference_pool_crds: str
    """Where the pinned InferencePool CRD comes from: an https:// URL or a local file of the same
    release (default: its GitHub release)."""


class AiGateway(pulumi.ComponentResource):
    """Envoy Gateway + Envoy AI Gateway from their pinned charts, the proxies' Gateway, Redis for
    the token budgets, and the ALB route that sends the API paths to the proxies."""

    gateway_namespace: pulumi.Output[str]
    """Namespace of the Gateway `ai-gateway` that models' AIGatewayRoutes attach to."""
    release_name: pulumi.Output[str]
    """Resolves once both controllers and the AI gateway's and InferencePool's CRDs are installed."""

    def __init__(self, name: str, args: AiGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:AiGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespaces = {}
        for ns in (gw.CONTROLLER_NAMESPACE, gw.AI_CONTROLLER_NAMESPACE):
            namespaces[ns] = k8s.core.v1.Namespace(
                ns,
                metadata=_k8s.meta(
                    ns, labels={**labels.PART_OF, "pod-security.kubernetes.io/enforce": "restricted"}
                ),
                opts=child,
            ).metadata.apply(lambda m: str(m["name"]))
        eg_ns, ai_ns = namespaces[gw.CONTROLLER_NAMESPACE], namespaces[gw.AI_CONTROLLER_NAMESPACE]
        # Nothing reaches a pod of either namespace but the flows mapped in docs/ai-gateway.md.
        gateway_network(name, namespaces, args["load_balancer_cidrs"], args["control_plane_cidrs"], self)
        redis_host = redis(f"{name}-redis", eg_ns, ON_SYSTEM_NODES, args.get("monitoring_release"), self)

        crds = _k8s.helm_release(
            f"{name}-ai-crds",
            AI_GATEWAY_CRDS,
            name="aieg-crd",
            namespace=ai_ns,
            values={},
            source=args.get("ai_gateway_crds_chart_source"),
            opts=child,
        )
        # Envoy Gateway watches InferencePools as backends (envoy_gateway_values): CRD first.
        pool_crds = k8s.yaml.v2.ConfigFile(
            f"{name}-inference-pool-crds",
            file=args.get("inference_pool_crds", INFERENCE_POOL_CRDS),
            opts=child,
        )
        envoy_gateway = _k8s.helm_release(
            f"{name}-envoy-gateway",
            ENVOY_GATEWAY,
            name=network.EG_RELEASE,
            namespace=eg_ns,
            values=redis_host.apply(envoy_gateway_values),
            source=args.get("envoy_gateway_chart_source"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pool_crds]),
        )
        ai_gateway = _k8s.helm_release(
            f"{name}-ai-gateway",
            AI_GATEWAY,
            name=network.AI_GATEWAY_RELEASE,
            namespace=ai_ns,
            values=ai_gateway_values(),
            source=args.get("ai_gateway_chart_source"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[crds, envoy_gateway]),
        )
        installed = pulumi.Output.all(envoy_gateway.name, ai_gateway.name).apply(lambda n: f"{n[0]},{n[1]}")

        proxy = k8s.apiextensions.CustomResource(
            f"{name}-proxy",
            api_version="gateway.envoyproxy.io/v1alpha1",
            kind="EnvoyProxy",
            metadata=_k8s.meta(gw.GATEWAY_NAME, eg_ns, dict(labels.PART_OF), _k8s.installed_by(installed)),
            spec=envoy_proxy_spec(args.get("replicas", 2)),
            opts=child,
        )
        gateway_class = k8s.apiextensions.CustomResource(
            f"{name}-class",
            api_version="gateway.networking.k8s.io/v1",
            kind="GatewayClass",
            metadata=_k8s.meta(
                gw.GATEWAY_CLASS, labels=dict(labels.PART_OF), annotations=_k8s.installed_by(installed)
            ),
            spec={
                "controllerName": gw.CONTROLLER_NAME,
                "parametersRef": {
                    "group": "gateway.envoyproxy.io",
                    "kind": "EnvoyProxy",
                    "name": gw.GATEWAY_NAME,
                    "namespace": eg_ns,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[proxy]),
        )
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version="gateway.networking.k8s.io/v1",
            kind="Gateway",
            metadata=_k8s.meta(gw.GATEWAY_NAME, eg_ns, dict(labels.PART_OF)),
            spec={
                "gatewayClassName": gw.GATEWAY_CLASS,
                "listeners": [
                    {
                        "name": "http",
                        "protocol": "HTTP",
                        "port": gw.LISTENER_PORT,
                        # Models' routes live in tenant namespaces; no other namespace may attach.
                        "allowedRoutes": {
                            "namespaces": {
                                "from": "Selector",
                                "selector": {
                                    "matchExpressions": [{"key": labels.TENANT, "operator": "Exists"}]
                                },
                            }
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway_class]),
        )
        # No caller may name itself: the client id header is dropped before any filter runs
        # (components/core/gateway_auth.py says why API-key and JWT auth alone are not enough).
        k8s.apiextensions.CustomResource(
            f"{name}-client-headers",
            api_version="gateway.envoyproxy.io/v1alpha1",
            kind="ClientTrafficPolicy",
            metadata=_k8s.meta(gw.GATEWAY_NAME, eg_ns, dict(labels.PART_OF), _k8s.installed_by(installed)),
            spec=gw_auth.client_header_policy_spec(gw.GATEWAY_NAME),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        self._alb_route(name, eg_ns, args, gateway)
        if "monitoring_release" in args:
            self._monitoring(name, eg_ns, args, args["monitoring_release"])

        self.gateway_namespace = gateway.metadata.apply(lambda m: str(m["namespace"]))
        self.release_name = installed
        self.register_outputs(
            {"gateway_namespace": self.gateway_namespace, "release_name": self.release_name}
        )

    def _monitoring(
        self, name: str, namespace: pulumi.Output[str], args: AiGatewayArgs, release: pulumi.Input[str]
    ) -> None:
        """The proxies scraped (Envoy's stats, and the AI gateway's gen_ai_* metrics from its
        sidecar), the gateway's alert rules, and the usage dashboard."""
        opts = pulumi.ResourceOptions(parent=self)
        k8s.apiextensions.CustomResource(
            f"{name}-proxy-metrics",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata=_k8s.meta(gw.GATEWAY_NAME, namespace, dict(labels.PART_OF), _k8s.installed_by(release)),
            spec={
                "selector": {"matchLabels": dict(gw.PROXY_POD_LABELS)},
                "podMetricsEndpoints": [
                    {
                        **endpoint,
                        "relabelings": [
                            {"action": "replace", "targetLabel": "job", "replacement": PROXY_JOB}
                        ],
                    }
                    for endpoint in (
                        {"port": "metrics", "path": "/stats/prometheus"},
                        {"portNumber": gw.EXTPROC_METRICS_PORT, "path": "/metrics"},
                    )
                ],
            },
            opts=opts,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=_k8s.meta(gw.GATEWAY_NAME, namespace, dict(labels.PART_OF), _k8s.installed_by(release)),
            spec={"groups": gateway_rule_groups()},
            opts=opts,
        )
        usage = args.get("usage")
        if usage is not None:
            costs = [usage_dashboard.ModelCost(**m) for m in usage["models"]]
            k8s.core.v1.ConfigMap(
                f"{name}-usage-dashboard",
                metadata=_k8s.meta(
                    "llm-ai-gateway-usage",
                    labels.MONITORING_NAMESPACE,
                    {"grafana_dashboard": "1", **labels.PART_OF},
                ),
                data={
                    "llm-ai-gateway-usage.json": usage_dashboard.usage_dashboard_json(usage["tenants"], costs)
                },
                opts=opts,
            )

    def _alb_route(
        self, name: str, namespace: pulumi.Output[str], args: AiGatewayArgs, gateway: pulumi.Resource
    ) -> None:
        """The ALB sends the guarded API paths of each tenant's model hostnames to the proxies,
        and nothing else: /metrics, /docs and the rest stay inside the cluster. The routes live in
        the tenant namespaces (the ALB listener admits no other), and a ReferenceGrant lets them
        name the proxies' Service."""
        opts = pulumi.ResourceOptions(parent=self, depends_on=[gateway])
        k8s.apiextensions.CustomResource(
            f"{name}-proxy-target-group",
            api_version="gateway.k8s.aws/v1",
            kind="TargetGroupConfiguration",
            metadata=_k8s.meta(
                gw.PROXY_SERVICE, namespace, dict(labels.PART_OF), _k8s.installed_by(args["alb_gateway_name"])
            ),
            spec=proxy_target_group_spec(),
            opts=opts,
        )
        routes = list(args["routes"])
        k8s.apiextensions.CustomResource(
            f"{name}-alb-routes-grant",
            api_version="gateway.networking.k8s.io/v1",
            kind="ReferenceGrant",
            metadata=_k8s.meta(gw.PROXY_SERVICE, namespace, dict(labels.PART_OF)),
            spec={
                "from": [
                    {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": r["namespace"]}
                    for r in routes
                ],
                "to": [{"group": "", "kind": "Service", "name": gw.PROXY_SERVICE}],
            },
            opts=opts,
        )
        for route in routes:
            k8s.apiextensions.CustomResource(
                f"{name}-alb-route-{route['tenant']}",
                api_version="gateway.networking.k8s.io/v1",
                kind="HTTPRoute",
                metadata=_k8s.meta(gw.GATEWAY_NAME, route["namespace"], dict(labels.PART_OF)),
                spec={
                    "parentRefs": [
                        {
                            "name": args["alb_gateway_name"],
                            "namespace": args["alb_gateway_namespace"],
                            "sectionName": "https",
                        }
                    ],
                    "hostnames": list(route["hostnames"]),
                    "rules": [
                        {
                            "matches": [
                                {"path": {"type": "PathPrefix", "value": p}} for p in PUBLIC_PATH_PREFIXES
                            ],
                            "backendRefs": [
                                {"name": gw.PROXY_SERVICE, "namespace": namespace, "port": gw.LISTENER_PORT}
                            ],
                        }
                    ],
                },
                opts=opts,
            )
