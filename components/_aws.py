"""Small AWS building blocks several components share."""

from __future__ import annotations

from dataclasses import dataclass

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


def pod_role(
    name: str,
    cluster_arn: pulumi.Input[str],
    namespace: pulumi.Input[str],
    service_account: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """A role that only EKS Pod Identity may assume, for `service_account` of `namespace` of
    this cluster (by the session tags EKS adds to the request)."""
    return aws.iam.Role(
        name,
        assume_role_policy=pulumi.Output.all(cluster_arn, namespace, service_account).apply(
            lambda a: iam.pod_identity_trust(str(a[0]), str(a[1]), str(a[2]))
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def addon_role(
    name: str, cluster_arn: pulumi.Input[str], managed_policy: str, parent: pulumi.Resource
) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
    """The Pod Identity role of an EKS add-on's controller, holding AWS's managed policy for it.

    Only the add-on's own service account (`iam.ADDON_SERVICE_ACCOUNTS`, by the managed
    policy it holds) may assume it; an add-on missing there is an error, not an open role.
    """
    namespace, service_account = iam.ADDON_SERVICE_ACCOUNTS[managed_policy]
    role = pod_role(name, cluster_arn, namespace, service_account, parent)
    attachment = aws.iam.RolePolicyAttachment(
        name,
        role=role.name,
        policy_arn=managed_policy_arn(partition(parent), managed_policy),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role, attachment


@dataclass(frozen=True)
class PodIdentity:
    role: aws.iam.Role
    grant: aws.iam.RolePolicy
    association: aws.eks.PodIdentityAssociation


def pod_identity(
    name: str,
    *,
    cluster_name: pulumi.Input[str],
    cluster_arn: pulumi.Input[str],
    namespace: pulumi.Input[str],
    service_account: pulumi.Input[str],
    policy: pulumi.Input[str],
    parent: pulumi.Resource,
) -> PodIdentity:
    """Pods running as `service_account` in `namespace` get a role holding `policy` and nothing
    else. Workloads that call AWS at start should wait for `grant` and `association`."""
    child = pulumi.ResourceOptions(parent=parent)
    role = pod_role(name, cluster_arn, namespace, service_account, parent)
    grant = aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=child)
    association = aws.eks.PodIdentityAssociation(
        name,
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        opts=child,
    )
    return PodIdentity(role, grant, association)
