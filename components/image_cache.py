"""ImageCache: an ECR pull-through cache of Docker Hub for the cluster's nodes.

The nodes pull `<account>.dkr.ecr.<region>.amazonaws.com/docker-hub/<image>`
instead of Docker Hub: the first pull of an image imports it into a private,
encrypted repository; later pulls, from any node, never leave the region.
"""

import json
from collections.abc import Mapping
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws

from components import _aws
from components.core import iam
from components.core.images import DOCKER_HUB_PREFIX

DOCKER_HUB_URL = "registry-1.docker.io"
# ECR reads the Docker Hub credentials only from secrets whose name has this prefix.
SECRET_PREFIX = "ecr-pullthroughcache/"
UNTAGGED_DAYS = 14


class ImageCacheArgs(TypedDict, total=False):
    docker_hub_credential_arn: Required[pulumi.Input[str]]
    """Secrets Manager secret (name starting ecr-pullthroughcache/) with a Docker Hub user and access token: ECR requires them to cache Docker Hub."""
    tags: pulumi.Input[Mapping[str, str]]
    """Tags of the repositories the cache creates."""


class ImageCache(pulumi.ComponentResource):
    """A Docker Hub pull-through cache rule, the template of the repositories it creates, and the
    node permissions to fill it."""

    registry: pulumi.Output[str]
    """Where nodes pull Docker Hub images from: <account>.dkr.ecr.<region>.amazonaws.com (images go under docker-hub/)."""
    node_policy_arn: pulumi.Output[str]
    """Policy for node roles: import upstream images into the cache's repositories, nothing else."""

    def __init__(self, name: str, args: ImageCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:ImageCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.ecr.PullThroughCacheRule(
            f"{name}-docker-hub",
            ecr_repository_prefix=DOCKER_HUB_PREFIX,
            upstream_registry_url=DOCKER_HUB_URL,
            credential_arn=args["docker_hub_credential_arn"],
            opts=child,
        )
        aws.ecr.RepositoryCreationTemplate(
            f"{name}-repositories",
            prefix=DOCKER_HUB_PREFIX,
            applied_fors=["PULL_THROUGH_CACHE"],
            description="Docker Hub images cached for the cluster's nodes",
            # Release tags are never rewritten upstream; a cached tag must not change under a node.
            image_tag_mutability="IMMUTABLE",
            # AWS-managed KMS key: a customer key here needs a role ECR assumes for every
            # repository it creates, and the cache holds only public images.
            encryption_configurations=[{"encryption_type": "KMS"}],
            lifecycle_policy=_expire_untagged(),
            resource_tags=args.get("tags"),
            opts=child,
        )
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        account = _aws.account_id(self)
        found = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition, dns_suffix = found.partition, found.dns_suffix
        policy = aws.iam.Policy(
            f"{name}-nodes",
            description="Nodes fill the pull-through cache on first pull",
            policy=pulumi.Output.all(partition, region, account).apply(
                lambda a: iam.document(
                    iam.allow(
                        ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                        f"arn:{a[0]}:ecr:{a[1]}:{a[2]}:repository/{DOCKER_HUB_PREFIX}/*",
                    )
                )
            ),
            opts=child,
        )
        # Reading the rule's id makes every pod that pulls through the cache wait for the rule.
        self.registry = pulumi.Output.all(account, region, dns_suffix, rule.id).apply(
            lambda a: f"{a[0]}.dkr.ecr.{a[1]}.{a[2]}"
        )
        self.node_policy_arn = policy.arn
        self.register_outputs({"registry": self.registry, "node_policy_arn": self.node_policy_arn})


def _expire_untagged() -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"untagged layers older than {UNTAGGED_DAYS} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": UNTAGGED_DAYS,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )
