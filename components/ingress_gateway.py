"""IngressGateway: one HTTPS entry point per environment, an ALB run by the AWS Load Balancer Controller."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import _aws, _buckets, _k8s
from components.core import elb_logs
from components.core.labels import PART_OF
from components.core.lbc_policy import load_balancer_controller_policy
from components.core.placement import POOL_LABEL, SYSTEM_POOL
from components.versions import AWS_LOAD_BALANCER_CONTROLLER, GATEWAY_API_CRDS

CONTROLLER_NAMESPACE = "kube-system"
ALB_CONTROLLER = "gateway.k8s.aws/alb"
TENANT_LABEL = "llm-platform.io/tenant"
ACCESS_LOG_PREFIX = "alb"
IDLE_TIMEOUT_SECONDS = 600  # a long generation may send nothing for minutes before its first byte


@dataclass(frozen=True)
class _LogBucket:
    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy


class IngressGatewayArgs(TypedDict, total=False):
    cluster_name: Required[pulumi.Input[str]]
    """EKS cluster the controller manages load balancers for."""
    cluster_arn: Required[pulumi.Input[str]]
    """The controller's Pod Identity role trusts only this cluster."""
    vpc_id: Required[pulumi.Input[str]]
    """VPC of the cluster; the controller's IAM policy is scoped to it."""
    region: Required[str]
    """Given to the controller, which cannot reach IMDS from a pod (hop limit 1)."""
    domain: Required[str]
    """Models answer at https://<model>.<domain>."""
    certificate_arn: Required[pulumi.Input[str]]
    """ACM certificate for *.<domain>."""
    ssl_policy: str
    """ALB TLS policy (default ELBSecurityPolicy-TLS13-1-2-2021-06: TLS 1.3, and 1.2 with forward secrecy)."""
    allowed_cidrs: Sequence[str]
    """Who may reach the load balancer."""
    rate_limit_per_five_minutes: int
    """Requests one client address may send in five minutes before WAF blocks it."""
    access_log_retention_days: int
    """Days to keep request logs."""
    force_destroy: bool
    """Let the access-log bucket be deleted with its logs (dev only)."""
    protect: bool
    """Protect the access-log bucket, and the Gateway with its LoadBalancerConfiguration and namespace (the ALB, with ELB deletion protection), from deletion, and keep them when removed."""
    gateway_api_crds: str
    """Where the pinned Gateway API CRDs come from: an https:// URL or a local file of the same release (default: its GitHub release)."""
    chart_source: _k8s.ChartSourceArgs
    """Install the AWS Load Balancer Controller chart from a mirror or a local path (default: its public repository; the pinned version either way)."""


class IngressGateway(pulumi.ComponentResource):
    """The controller (pinned chart, Pod Identity role with its published policy), the
    Gateway API CRDs it needs, and a Gateway: an internet-facing ALB with TLS from ACM,
    a WAF rate limit per client address, and access logs in S3. Tenants' HTTPRoutes
    attach to its HTTPS listener."""

    gateway_name: pulumi.Output[str]
    """The Gateway routes attach to; resolves once it and its controller exist."""
    gateway_namespace: pulumi.Output[str]
    """Namespace of the Gateway."""
    access_log_bucket: pulumi.Output[str]
    """Bucket of the ALB's access logs."""
    web_acl_arn: pulumi.Output[str]
    """The WAF web ACL on the ALB (rate limit, allowed CIDRs)."""

    def __init__(
        self, name: str, args: IngressGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("llmplatform:index:IngressGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        protect = args.get("protect", False)
        # A protected stack keeps its entry point: the ALB has ELB deletion protection, and the
        # objects the controller makes it from (namespace, configuration, Gateway) are protected
        # and retained with it. Otherwise an update that drops them would have the controller
        # delete an ALB that deletion protection keeps, and the Gateway would hang on its
        # finalizer. Tearing down on purpose: README, "Deploying for real".
        kept = pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)

        crds = k8s.yaml.v2.ConfigFile(
            f"{name}-gateway-api-crds", file=args.get("gateway_api_crds", GATEWAY_API_CRDS), opts=child
        )
        controller = self._controller(name, args, crds)
        logs = self._access_logs(name, args, protect)
        acl = self._web_acl(name, args)

        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=_k8s.meta(name, labels={**PART_OF, "pod-security.kubernetes.io/enforce": "restricted"}),
            # Deleting the namespace would delete the Gateway in it, and with it the ALB.
            opts=pulumi.ResourceOptions.merge(child, kept),
        )
        ns = namespace.metadata.apply(lambda m: str(m["name"]))
        after_controller = pulumi.ResourceOptions(parent=self, depends_on=[controller, crds])
        attributes = [
            {"key": "access_logs.s3.enabled", "value": "true"},
            {"key": "access_logs.s3.bucket", "value": logs.bucket.bucket},
            {"key": "access_logs.s3.prefix", "value": ACCESS_LOG_PREFIX},
            {"key": "idle_timeout.timeout_seconds", "value": str(IDLE_TIMEOUT_SECONDS)},
            {"key": "routing.http.drop_invalid_header_fields.enabled", "value": "true"},
            {"key": "deletion_protection.enabled", "value": "true" if protect else "false"},
        ]
        config = k8s.apiextensions.CustomResource(
            f"{name}-alb",
            api_version="gateway.k8s.aws/v1",
            kind="LoadBalancerConfiguration",
            metadata=_k8s.meta(f"{name}-alb", ns),
            spec={
                "scheme": "internet-facing",
                "ipAddressType": "ipv4",
                "listenerConfigurations": [
                    {
                        "protocolPort": "HTTPS:443",
                        "defaultCertificate": args["certificate_arn"],
                        "sslPolicy": args.get("ssl_policy", "ELBSecurityPolicy-TLS13-1-2-2021-06"),
                    }
                ],
                # An ARN, not a name: the controller passes it to AssociateWebACL as is.
                "wafV2": {"webACL": acl.arn},
                "loadBalancerAttributes": attributes,
                "sourceRanges": list(args.get("allowed_cidrs", ["0.0.0.0/0"])),
                "tags": {"llm-platform/gateway": name},
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[controller, crds, logs.policy],
                protect=protect,
                retain_on_delete=protect,
            ),
        )
        gateway_class = k8s.apiextensions.CustomResource(
            f"{name}-class",
            api_version="gateway.networking.k8s.io/v1",
            kind="GatewayClass",
            metadata=_k8s.meta(name),
            spec={"controllerName": ALB_CONTROLLER},
            opts=after_controller,
        )
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version="gateway.networking.k8s.io/v1",
            kind="Gateway",
            metadata=_k8s.meta(name, ns),
            spec={
                "gatewayClassName": gateway_class.metadata.apply(lambda m: str(m["name"])),
                "infrastructure": {
                    "parametersRef": {
                        "group": "gateway.k8s.aws",
                        "kind": "LoadBalancerConfiguration",
                        "name": config.metadata.apply(lambda m: str(m["name"])),
                    }
                },
                "listeners": [
                    {
                        "name": "https",
                        "protocol": "HTTPS",
                        "port": 443,
                        "hostname": f"*.{args['domain']}",
                        # Routes may attach from tenant namespaces only.
                        "allowedRoutes": {
                            "namespaces": {
                                "from": "Selector",
                                "selector": {
                                    "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
                                },
                            }
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions.merge(after_controller, kept),
        )

        self.gateway_name = gateway.metadata.apply(lambda m: str(m["name"]))
        self.gateway_namespace = ns
        self.access_log_bucket = logs.bucket.bucket
        self.web_acl_arn = acl.arn
        self.register_outputs(
            {
                "gateway_name": self.gateway_name,
                "gateway_namespace": self.gateway_namespace,
                "access_log_bucket": self.access_log_bucket,
                "web_acl_arn": self.web_acl_arn,
            }
        )

    def _controller(self, name: str, args: IngressGatewayArgs, crds: pulumi.Resource) -> k8s.helm.v3.Release:
        vpc_arn = pulumi.Output.all(args["cluster_arn"], args["vpc_id"]).apply(
            lambda a: ":".join(a[0].split(":")[:5]).replace(":eks:", ":ec2:") + f":vpc/{a[1]}"
        )
        account = controller_account(name)
        identity = _aws.pod_identity(
            f"{name}-controller",
            cluster_name=args["cluster_name"],
            cluster_arn=args["cluster_arn"],
            namespace=CONTROLLER_NAMESPACE,
            service_account=account,
            policy=vpc_arn.apply(load_balancer_controller_policy),
            parent=self,
        )
        return _k8s.helm_release(
            f"{name}-controller",
            AWS_LOAD_BALANCER_CONTROLLER,
            name=account,
            namespace=CONTROLLER_NAMESPACE,
            values=controller_values(args, account),
            source=args.get("chart_source"),
            # The controller reads which Gateway API kinds exist once, at start: CRDs first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[crds, identity.association, identity.grant]),
        )

    def _access_logs(self, name: str, args: IngressGatewayArgs, protect: bool) -> _LogBucket:
        """ALB access logs only go to SSE-S3 buckets; ELB's log delivery may write one prefix."""
        bucket = aws.s3.Bucket(
            f"{name}-alb-logs",
            force_destroy=args.get("force_destroy", False),
            tags=_buckets.sse_s3_tags("ALB access log delivery supports only SSE-S3"),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        region = args["region"]
        # At plan time: a region nobody may deliver logs in fails here, not at the first request.
        elb_logs.log_delivery_principals(region, elb_logs.partition_of(region))
        policy = pulumi.Output.all(bucket.arn, _aws.account_id(self), _aws.partition(self)).apply(
            lambda a: elb_logs.access_log_policy(a[0], ACCESS_LOG_PREFIX, a[1], region, a[2])
        )
        bucket_policy = _buckets.harden(
            f"{name}-alb-logs",
            bucket,
            self,
            policy=policy,
            expire_days=args.get("access_log_retention_days", 90),
        )
        return _LogBucket(bucket, bucket_policy)

    def _web_acl(self, name: str, args: IngressGatewayArgs) -> aws.wafv2.WebAcl:
        metric = name.replace("-", "")

        def visibility(suffix: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
            return aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True,
                metric_name=f"{metric}{suffix}",
                sampled_requests_enabled=True,
            )

        rate_limit = aws.wafv2.WebAclRuleArgs(
            name="rate-limit-per-client",
            priority=1,
            action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                    limit=args.get("rate_limit_per_five_minutes", 2000),
                    aggregate_key_type="IP",
                    evaluation_window_sec=300,
                )
            ),
            visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True,
                metric_name=f"{metric}RateLimit",
                sampled_requests_enabled=True,
            ),
        )
        return aws.wafv2.WebAcl(
            f"{name}-waf",
            scope="REGIONAL",
            description=f"Rate limit per client address in front of {name}",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=[rate_limit],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


def controller_account(name: str) -> str:
    """Release and ServiceAccount name of the controller (derived from the component's name)."""
    return f"{name}-lbc"


def controller_values(args: IngressGatewayArgs, account: str) -> dict[str, Any]:
    return {
        "clusterName": args["cluster_name"],
        # Pods cannot reach IMDS (hop limit 1): region and VPC are given, not discovered.
        "region": args["region"],
        "vpcId": args["vpc_id"],
        "serviceAccount": {"create": True, "name": account},
        "replicaCount": 2,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
        # Gateway target groups point at pod addresses.
        "defaultTargetType": "ip",
        # This controller serves the Gateway only; it does not take over every LoadBalancer Service.
        "enableServiceMutatorWebhook": False,
        "createIngressClassResource": False,
        "ingressClassParams": {"create": False},
        # Keep the webhook certificate across upgrades instead of minting one per render.
        "keepTLSSecret": True,
        "defaultSSLPolicy": args.get("ssl_policy", "ELBSecurityPolicy-TLS13-1-2-2021-06"),
    }
