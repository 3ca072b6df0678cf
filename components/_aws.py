"""Small AWS building blocks several components share."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.core import iam


def managed_policy_arn(partition: pulumi.Output[str], policy: str) -> pulumi.Output[str]:
    return partition.apply(lambda p: iam.managed_policy_arn(p, policy))


def partition(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent)).partition


def account_id(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id


def kms_key(name: str, description: str, parent: pulumi.Resource, protect: bool) -> aws.kms.Key:
    """A customer-managed key with yearly rotation and an alias named after `name`.

    Protected keys are also retained: data encrypted with a deleted key is lost.
    """
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect),
    )
    aws.kms.Alias(
        name, name=f"alias/{name}", target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=parent)
    )
    return key
