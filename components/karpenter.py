"""Karpenter: the controller that launches GPU nodes for pending pods and removes empty ones,
with its IAM, the node role, and the interruption queue that warns it before AWS takes a node."""

from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import _aws, _k8s, _nodes
from components.core import karpenter as core
from components.core.placement import SYSTEM_POOL
from components.versions import KARPENTER, KARPENTER_IMAGE_REPOSITORY, KARPENTER_IMAGE_TAG


class KarpenterArgs(TypedDict, total=False):
    cluster_name: Required[pulumi.Input[str]]
    """The EKS cluster whose nodes Karpenter manages."""
    cluster_arn: Required[pulumi.Input[str]]
    """Its ARN: the controller's Pod Identity role trusts only this cluster."""
    namespace: str
    """Namespace of the controller (default: karpenter)."""
    chart_source: _k8s.ChartSourceArgs
    """Install the Karpenter chart from a mirror or a local path (default: its public OCI repository; the pinned version either way)."""


class Karpenter(pulumi.ComponentResource):
    """Karpenter from its pinned chart and controller image, on the system nodes.

    The controller holds the policy Karpenter publishes for v1, scoped to this
    cluster, through EKS Pod Identity. Nodes it launches take `node_role_name`
    (the managed policies a node needs, and an EC2_LINUX access entry so they can
    join). An SQS queue (SQS-managed encryption, TLS only) receives the
    EventBridge events that announce a spot interruption, a rebalance
    recommendation, an instance state change or a scheduled health event, so
    Karpenter drains a node and starts its replacement before AWS takes it.
    """

    release_name: pulumi.Output[str]
    """Resolves once the chart and its CRDs are installed: NodePools wait for it."""
    node_role_name: pulumi.Output[str]
    """IAM role of the nodes Karpenter launches (EC2NodeClass.spec.role)."""
    node_role_arn: pulumi.Output[str]
    """Its ARN."""
    queue_name: pulumi.Output[str]
    """The interruption queue."""

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:Karpenter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = pulumi.Output.from_input(args["cluster_name"])
        namespace_name = args.get("namespace", core.NAMESPACE)

        node_role, node_policies = _nodes.node_role(name, self)
        access = aws.eks.AccessEntry(
            f"{name}-nodes",
            cluster_name=cluster_name,
            principal_arn=node_role.arn,
            type="EC2_LINUX",
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_policies),
        )

        queue = aws.sqs.Queue(
            f"{name}-interruption",
            message_retention_seconds=core.QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        rules = []
        for event in core.INTERRUPTION_EVENTS:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{event}",
                description=f"Karpenter interruption handling: {event}",
                event_pattern=core.event_pattern(event),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{event}",
                rule=rule.name,
                arn=queue.arn,
                target_id="KarpenterInterruptionQueue",
                opts=child,
            )
            rules.append(rule)
        aws.sqs.QueuePolicy(
            f"{name}-interruption",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *[r.arn for r in rules]).apply(
                lambda a: core.queue_policy(str(a[0]), [str(x) for x in a[1:]])
            ),
            opts=child,
        )

        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        policy = pulumi.Output.all(
            _aws.partition(self), region, _aws.account_id(self), cluster_name, node_role.arn, queue.arn
        ).apply(lambda a: core.controller_policy(*(str(x) for x in a)))
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=_k8s.meta(namespace_name, labels={"pod-security.kubernetes.io/enforce": "restricted"}),
            opts=child,
        )
        identity = _aws.pod_identity(
            f"{name}-controller",
            cluster_name=cluster_name,
            cluster_arn=args["cluster_arn"],
            namespace=namespace_name,
            service_account=core.SERVICE_ACCOUNT,
            policy=policy,
            parent=self,
        )
        values = pulumi.Output.all(cluster_name, queue.name).apply(
            lambda a: core.helm_values(
                str(a[0]), str(a[1]), KARPENTER_IMAGE_REPOSITORY, KARPENTER_IMAGE_TAG, SYSTEM_POOL
            )
        )
        release = _k8s.helm_release(
            name,
            KARPENTER,
            name=name,
            namespace=namespace.metadata.apply(lambda m: str(m["name"])),
            values=values,
            source=args.get("chart_source"),
            # The controller calls AWS as it starts: its role and the node role come first.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[identity.grant, identity.association, access]
            ),
        )
        self.release_name = release.name.apply(lambda n: str(n))
        self.node_role_name = node_role.name
        self.node_role_arn = node_role.arn
        self.queue_name = queue.name
        self.register_outputs(
            {
                "release_name": self.release_name,
                "node_role_name": self.node_role_name,
                "node_role_arn": self.node_role_arn,
                "queue_name": self.queue_name,
            }
        )
