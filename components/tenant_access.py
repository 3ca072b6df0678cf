"""A tenant's rights in its namespace: its own Role, and admission policies guarding the
platform's objects and ServiceAccounts there from it (rules in components/core/tenant_access.py)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.core import tenant_access as access

ROLE = "tenant"


def tenant_access(name: str, namespace: pulumi.Output[str], group: str, parent: pulumi.Resource) -> None:
    """Give `group` the tenant Role in `namespace`, and refuse it (by admission) pods running
    as the platform's ServiceAccounts and changes to the platform's objects there."""
    opts = pulumi.ResourceOptions(parent=parent)
    owned = labels.platform_owned()
    role = k8s.rbac.v1.Role(
        f"{name}-tenant",
        metadata=_k8s.meta(ROLE, namespace, owned),
        rules=access.TENANT_RULES,
        opts=opts,
    )
    k8s.rbac.v1.RoleBinding(
        f"{name}-tenant",
        metadata=_k8s.meta(ROLE, namespace, owned),
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
        subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
        opts=opts,
    )

    policies: dict[str, tuple[dict[str, Any], pulumi.Output[dict[str, Any]]]] = {}
    for shape in access.POD_SPEC_PATHS:
        policy_name = f"tenant-{name}-platform-accounts-{shape}"
        policies[policy_name] = (
            access.service_account_policy(shape, group),
            namespace.apply(partial(access.service_account_binding, policy_name)),
        )
    policy_name = f"tenant-{name}-platform-objects"
    policies[policy_name] = (
        access.platform_objects_policy(group),
        namespace.apply(partial(access.platform_objects_binding, policy_name)),
    )
    for policy_name, (spec, binding) in policies.items():
        policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            policy_name,
            metadata=_k8s.meta(policy_name, labels=dict(labels.PART_OF)),
            spec=spec,
            opts=opts,
        )
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            policy_name,
            metadata=_k8s.meta(policy_name, labels=dict(labels.PART_OF)),
            spec=binding,
            # A binding naming a policy that does not exist yet is ignored, then never revisited.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
        )
