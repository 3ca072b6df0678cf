"""Logs: Loki storing to S3 and Alloy collecting every pod's logs on every node."""

from typing import Any, Required, TypedDict

import pulumi
import pulumi_aws as aws

from components import _aws, _buckets, _k8s
from components.core import audit, iam
from components.core.placement import GPU_TAINT_KEY, POOL_LABEL, SYSTEM_POOL
from components.versions import ALLOY, LOKI

LOKI_ACCOUNT = "loki"
ALLOY_ACCOUNT = "alloy"
LOKI_VOLUME_GIB = 20  # write-ahead log and index cache; chunks and indexes live in S3


def loki_url(namespace: str) -> str:
    """Loki's address (release "loki", single binary, no gateway)."""
    return f"http://loki.{namespace}.svc.cluster.local:3100"


class AuditShippingArgs(TypedDict):
    """Where Alloy sends the AI gateway's request records, and whose bodies go with them."""

    bucket: pulumi.Input[str]
    """AuditLog.bucket_name."""
    bucket_arn: pulumi.Input[str]
    """AuditLog.bucket_arn."""
    kms_key_arn: pulumi.Input[str]
    """AuditLog.kms_key_arn."""
    proxy_namespace: str
    """Namespace of the gateway's proxies, whose access log holds the records."""
    body_namespaces: list[str]
    """Tenant namespaces whose vLLM request and response log lines are kept too (opt-in)."""


class LogsArgs(TypedDict, total=False):
    namespace: Required[pulumi.Input[str]]
    """Namespace of the monitoring stack."""
    cluster_name: Required[pulumi.Input[str]]
    """EKS cluster of Loki's pod identity."""
    cluster_arn: Required[pulumi.Input[str]]
    """Loki's Pod Identity role trusts only this cluster."""
    region: Required[pulumi.Input[str]]
    """Region of the log bucket."""
    retention_days: int
    """Days Loki keeps logs."""
    storage_class_name: Required[pulumi.Input[str]]
    """StorageClass of Loki's working volume (write-ahead log, index cache)."""
    force_destroy: bool
    """Let the log bucket be deleted with its logs (dev only)."""
    protect: bool
    """Protect the log bucket from deletion."""
    loki_chart_source: _k8s.ChartSourceArgs
    """Install the Loki chart from a mirror or a local path (default: its public repository; the pinned version either way)."""
    alloy_chart_source: _k8s.ChartSourceArgs
    """Install the Alloy chart from a mirror or a local path (default: its public repository; the pinned version either way)."""
    audit: AuditShippingArgs
    """Also ship the AI gateway's request records to the audit bucket (AuditLog)."""


def alloy_config(push_url: str, also_to: str = "") -> str:
    """Alloy (River): tail the logs of every pod on this node and push them to Loki (and to
    `also_to`, a receiver of another pipeline, when given)."""
    receivers = ", ".join(["loki.process.pods.receiver", *([also_to] if also_to else [])])
    return f"""discovery.kubernetes "pods" {{
  role = "pod"
  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }}
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "__path__"
    replacement   = "/var/log/pods/*$1/*.log"
  }}
}}

local.file_match "pods" {{
  path_targets = discovery.relabel.pods.output
}}

loki.source.file "pods" {{
  targets    = local.file_match.pods.targets
  forward_to = [{receivers}]
}}

loki.process "pods" {{
  stage.cri {{}}
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "{push_url}"
  }}
}}
"""


def loki_values(bucket: pulumi.Input[str], args: LogsArgs) -> dict[str, Any]:
    retention_hours = args.get("retention_days", 30) * 24
    return {
        "deploymentMode": "Monolithic",
        "loki": {
            "auth_enabled": False,  # one tenant: the platform
            "commonConfig": {"replication_factor": 1},
            "schemaConfig": {
                "configs": [
                    {
                        "from": "2026-01-01",
                        "store": "tsdb",
                        "object_store": "s3",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            # No keys: Loki's AWS SDK takes the Pod Identity credentials.
            "storage": {"type": "s3", "bucketNames": {"chunks": bucket}, "s3": {"region": args["region"]}},
            "compactor": {"retention_enabled": True, "delete_request_store": "s3"},
            "structuredConfig": {"limits_config": {"retention_period": f"{retention_hours}h"}},
        },
        "serviceAccount": {"create": True, "name": LOKI_ACCOUNT},
        "singleBinary": {
            "replicas": 1,
            "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
            "persistence": {
                "enabled": True,
                "size": f"{LOKI_VOLUME_GIB}Gi",
                "storageClass": args["storage_class_name"],
            },
        },
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "backend": {"replicas": 0},
        "gateway": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "ruler": {"enabled": False},
    }


def alloy_values(push_url: str, audit_pipeline: str = "") -> dict[str, Any]:
    content = alloy_config(push_url, "loki.process.audit.receiver" if audit_pipeline else "") + audit_pipeline
    values: dict[str, Any] = {
        # On every node, GPU nodes included: their pods' logs matter most.
        "controller": {
            "type": "daemonset",
            "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
        },
        "alloy": {
            "mounts": {"varlog": True},
            "configMap": {"create": True, "content": content},
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        },
        "serviceAccount": {"create": True, "name": ALLOY_ACCOUNT},
    }
    if audit_pipeline:
        # The S3 exporter is experimental in Alloy 1.18; the records also stay in Loki.
        values["alloy"]["stabilityLevel"] = "experimental"
    return values


class Logs(pulumi.ComponentResource):
    """Loki (single binary) keeping logs in a private, encrypted S3 bucket for the configured
    retention, reading it with its own Pod Identity role; Alloy on every node shipping pod logs."""

    bucket_name: pulumi.Output[str]
    """The bucket Loki keeps chunks and indexes in."""
    push_url: pulumi.Output[str]
    """Where log shippers push to (Loki's push API)."""

    def __init__(self, name: str, args: LogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:Logs", name, None, opts)
        protect = args.get("protect", False)
        key = _aws.kms_key(f"{name}-logs", f"Logs of {name}", self, protect)
        bucket = aws.s3.Bucket(
            f"{name}-logs",
            force_destroy=args.get("force_destroy", False),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        _buckets.harden(
            f"{name}-logs",
            bucket,
            self,
            policy=bucket.arn.apply(iam.bucket_tls_only),
            kms_key_arn=key.arn,
            # Loki's compactor deletes expired logs; the bucket rule only catches what it misses.
            expire_days=args.get("retention_days", 30) + 7,
        )
        identity = _aws.pod_identity(
            f"{name}-loki",
            cluster_name=args["cluster_name"],
            cluster_arn=args["cluster_arn"],
            namespace=args["namespace"],
            service_account=LOKI_ACCOUNT,
            policy=pulumi.Output.all(bucket.arn, key.arn).apply(lambda a: iam.log_store_policy(a[0], a[1])),
            parent=self,
        )
        loki = _k8s.helm_release(
            f"{name}-loki",
            LOKI,
            name="loki",
            namespace=args["namespace"],
            values=loki_values(bucket.bucket, args),
            source=args.get("loki_chart_source"),
            timeout=900,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[identity.association, identity.grant]),
        )
        push_url = pulumi.Output.from_input(args["namespace"]).apply(
            lambda ns: f"{loki_url(ns)}/loki/api/v1/push"
        )
        alloy_after: list[pulumi.Resource] = [loki]
        values: pulumi.Input[Any] = push_url.apply(alloy_values)
        shipping = args.get("audit")
        if shipping is not None:
            writer = _aws.pod_identity(
                f"{name}-alloy-audit",
                cluster_name=args["cluster_name"],
                cluster_arn=args["cluster_arn"],
                namespace=args["namespace"],
                service_account=ALLOY_ACCOUNT,
                policy=pulumi.Output.all(shipping["bucket_arn"], shipping["kms_key_arn"]).apply(
                    lambda a: audit.audit_writer_policy(a[0], a[1])
                ),
                parent=self,
            )
            alloy_after += [writer.association, writer.grant]
            values = pulumi.Output.all(push_url, shipping["bucket"], args["region"]).apply(
                lambda a: alloy_values(
                    a[0],
                    audit.alloy_audit_pipeline(
                        a[1], a[2], shipping["proxy_namespace"], shipping["body_namespaces"]
                    ),
                )
            )
        _k8s.helm_release(
            f"{name}-alloy",
            ALLOY,
            name="alloy",
            namespace=args["namespace"],
            values=values,
            source=args.get("alloy_chart_source"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=alloy_after),
        )
        self.bucket_name = bucket.bucket
        self.push_url = push_url
        self.register_outputs({"bucket_name": self.bucket_name, "push_url": self.push_url})
