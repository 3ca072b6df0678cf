"""What the AI gateway's charts and proxies are given, as plain data (no Pulumi):
components/ai_gateway.py installs them.

Everything runs on the system nodes, at least two of each, spread over zones when they allow
it: the Envoy Gateway controller (leader election keeps xDS served through a drain), its
rate-limit service (every request's budget check), the AI gateway's controller (the extension
server Envoy Gateway calls) and the proxies, whose Service has a fixed name the ALB's routes
and target group can point at.
"""

from __future__ import annotations

from typing import Any

from components.core import audit
from components.core import gateway as gw
from components.core import gateway_dashboard as usage_dashboard
from components.core import gateway_network as network
from components.core.placement import ON_SYSTEM_NODES


def spread(selector: dict[str, str]) -> list[dict[str, Any]]:
    """Replicas in different zones when the zones allow it, never waiting for it."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }
    ]


def envoy_gateway_values(redis_host: str) -> dict[str, Any]:
    """Envoy Gateway with what Envoy AI Gateway requires (../shared/upstream/charts/ai-gateway/
    envoy-gateway-values*.yaml): its extension server, Backend, token rate limits in Redis and
    InferencePool backends."""
    controller_labels = network.EG_CONTROLLER_POD_LABELS
    return {
        "deployment": {
            "replicas": 2,  # leader election: xDS keeps being served through a drain
            "pod": {"nodeSelector": ON_SYSTEM_NODES, "topologySpreadConstraints": spread(controller_labels)},
        },
        "podDisruptionBudget": {"minAvailable": 1},
        "config": {
            "envoyGateway": {
                "gateway": {"controllerName": gw.CONTROLLER_NAME},
                "provider": {
                    "type": "Kubernetes",
                    "kubernetes": {
                        # The rate-limit service answers every request's budget check: two of them.
                        "rateLimitDeployment": {
                            "patch": {
                                "type": "StrategicMerge",
                                "value": {
                                    "spec": {
                                        "replicas": 2,
                                        "template": {"spec": {"nodeSelector": ON_SYSTEM_NODES}},
                                    }
                                },
                            }
                        }
                    },
                },
                "logging": {"level": {"default": "info"}},
                "extensionApis": {"enableEnvoyPatchPolicy": True, "enableBackend": True},
                "extensionManager": {
                    "hooks": {
                        "xdsTranslator": {
                            "translation": {
                                part: {"includeAll": True}
                                for part in ("listener", "route", "cluster", "secret")
                            },
                            "post": ["Translation", "Cluster", "Route"],
                        }
                    },
                    "service": {
                        "fqdn": {
                            "hostname": f"{gw.AI_CONTROLLER_SERVICE}.{gw.AI_CONTROLLER_NAMESPACE}.svc.cluster.local",
                            "port": gw.AI_CONTROLLER_GRPC_PORT,
                        }
                    },
                    "backendResources": [
                        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "version": "v1"}
                    ],
                },
                "rateLimit": {
                    "backend": {"type": "Redis", "redis": {"url": f"{redis_host}:{network.REDIS_PORT}"}}
                },
            }
        },
    }


def ai_gateway_values() -> dict[str, Any]:
    # The chart's selector labels (chart name, release), not the Service's fullnameOverride.
    selector = network.AI_CONTROLLER_POD_LABELS
    return {
        "controller": {
            # gen_ai_* metrics carry the caller (the client id API-key or JWT auth set) as a label.
            "metricsRequestHeaderAttributes": f"{gw.CLIENT_ID_HEADER}:{usage_dashboard.CLIENT_ATTRIBUTE}",
            "replicaCount": 2,
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "nodeSelector": ON_SYSTEM_NODES,
            "topologySpreadConstraints": spread(selector),
        }
    }


def envoy_proxy_spec(replicas: int) -> dict[str, Any]:
    """The proxies: on the system nodes, spread, a PDB, and a Service of a fixed name."""
    return {
        "provider": {
            "type": "Kubernetes",
            "kubernetes": {
                "envoyDeployment": {
                    "replicas": replicas,
                    "pod": {
                        "nodeSelector": ON_SYSTEM_NODES,
                        "topologySpreadConstraints": spread(
                            {"gateway.envoyproxy.io/owning-gateway-name": gw.GATEWAY_NAME}
                        ),
                    },
                },
                "envoyPDB": {"minAvailable": 1},
                "envoyService": {"name": gw.PROXY_SERVICE, "type": "ClusterIP"},
            },
        },
        # One audit record per request on stdout; the log agents ship it (components/core/audit.py).
        "telemetry": audit.access_log_telemetry(),
    }


def proxy_target_group_spec() -> dict[str, Any]:
    """The ALB's target group of the proxies: pod addresses, health from Envoy's own /ready."""
    return {
        "targetReference": {"name": gw.PROXY_SERVICE},
        "defaultConfiguration": {
            "targetType": "ip",
            "protocol": "HTTP",
            "healthCheckConfig": {
                "healthCheckPath": "/ready",
                "healthCheckPort": str(gw.PROXY_READY_PORT),
                "healthCheckProtocol": "HTTP",
                "healthCheckInterval": 10,
                "healthCheckTimeout": 5,
                "healthyThresholdCount": 2,
                "unhealthyThresholdCount": 2,
                "matcher": {"httpCode": "200"},
            },
        },
    }
