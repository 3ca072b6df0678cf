"""What a tenant's people may do in their namespace, and what admission refuses them anyway.

Plain data, no Pulumi: the Tenant component turns it into a Role, a RoleBinding and
ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1) with their bindings.

- RBAC: a Role of the tenant's own instead of the built-in `edit` ClusterRole. It keeps
  what tenants run models and tools with (pods, workloads, services, config, claims,
  scaling, disruption budgets) and leaves out what the platform guards the namespace with:
  no NetworkPolicy, ResourceQuota, LimitRange or RBAC writes (read only), no Ingress (traffic
  enters through the platform's gateway), no DaemonSets, and neither `impersonate` nor
  `serviceaccounts/token` (which `edit` grants, and which would let a tenant act as, or mint
  tokens for, the platform's ServiceAccounts).
- Admission, for requests by the tenant's group only:
  - pods and every pod controller the Role lets tenants create must not run as a
    ServiceAccount labelled `llm-platform.io/platform-owned=true` in the namespace (the
    model-serving and sync accounts, whose Pod Identity roles read or write the model's S3
    prefix). The policy takes those ServiceAccounts as its parameters, so a new platform
    account is covered the moment it exists, by its label.
  - objects of the platform (labelled `app.kubernetes.io/part-of=llm-platform` or
    `llm-platform.io/platform-owned=true`, before or after the change) may not be created,
    changed or deleted, so a tenant can neither retarget the platform's Deployment or Job
    (and so run its code as their ServiceAccounts) nor forge the labels.
"""

from __future__ import annotations

from typing import Any

from components.core import labels

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]

# Pod-creating kinds tenants may create, by where their pod spec sits (see TENANT_RULES).
POD_SPEC_PATHS: dict[str, str] = {
    "pods": "object.spec",
    "workloads": "object.spec.template.spec",
    "cronjobs": "object.spec.jobTemplate.spec.template.spec",
}
POD_KINDS: dict[str, list[tuple[str, str]]] = {
    "pods": [("", "pods")],
    "workloads": [
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
    ],
    "cronjobs": [("batch", "cronjobs")],
}
_VERSIONS = {"": "v1", "apps": "v1", "batch": "v1"}

TENANT_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": [
            "configmaps",
            "persistentvolumeclaims",
            "pods",
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
        "verbs": READ + WRITE,
    },
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {
        "apiGroups": [""],
        "resources": [
            "endpoints",
            "events",
            "limitranges",
            "namespaces",
            "persistentvolumeclaims/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
            "services/status",
        ],
        "verbs": READ,
    },
    {
        "apiGroups": ["apps"],
        "resources": [
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
        "verbs": READ + WRITE,
    },
    {
        "apiGroups": ["apps"],
        "resources": [
            "controllerrevisions",
            "daemonsets",
            "deployments/status",
            "replicasets/status",
            "statefulsets/status",
        ],
        "verbs": READ,
    },
    {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": READ + WRITE},
    {"apiGroups": ["batch"], "resources": ["cronjobs/status", "jobs/status"], "verbs": READ},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": READ + WRITE},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": READ + WRITE},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": READ},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": READ},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings", "roles"], "verbs": READ},
]


def _quote(value: str) -> str:
    """A CEL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def by_group(group: str) -> list[dict[str, str]]:
    """matchConditions: only requests made by a member of `group`."""
    return [
        {
            "name": "by-tenant",
            "expression": f"has(request.userInfo.groups) && request.userInfo.groups.exists(g, g == {_quote(group)})",
        }
    ]


def service_account_policy(shape: str, group: str) -> dict[str, Any]:
    """spec of the policy refusing `group`'s pods (of one spec shape) that run as a platform
    ServiceAccount; its parameters are those ServiceAccounts (see service_account_binding)."""
    rules: dict[str, list[str]] = {}
    for api_group, resource in POD_KINDS[shape]:
        rules.setdefault(api_group, []).append(resource)
    spec = POD_SPEC_PATHS[shape]
    return {
        "failurePolicy": "Fail",
        "paramKind": {"apiVersion": "v1", "kind": "ServiceAccount"},
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [api_group],
                    "apiVersions": [_VERSIONS[api_group]],
                    "resources": sorted(resources),
                    "operations": ["CREATE", "UPDATE"],
                    "scope": "Namespaced",
                }
                for api_group, resources in sorted(rules.items())
            ]
        },
        "matchConditions": by_group(group),
        "variables": [
            {"name": "spec", "expression": spec},
            {
                # The API server fills serviceAccountName from the deprecated serviceAccount
                # field, and "default" when neither is set.
                "name": "account",
                "expression": (
                    "has(variables.spec.serviceAccountName) && variables.spec.serviceAccountName != '' ? "
                    "variables.spec.serviceAccountName : "
                    "(has(variables.spec.serviceAccount) && variables.spec.serviceAccount != '' ? "
                    "variables.spec.serviceAccount : 'default')"
                ),
            },
        ],
        "validations": [
            {
                "expression": "variables.account != params.metadata.name",
                "messageExpression": (
                    "'pods of tenants may not run as the platform ServiceAccount ' + params.metadata.name"
                ),
                "reason": "Forbidden",
            }
        ],
    }


def service_account_binding(policy_name: str, namespace: str) -> dict[str, Any]:
    """spec binding a service_account_policy to one namespace, with every ServiceAccount
    labelled platform-owned there as a parameter (none: nothing to refuse)."""
    return {
        "policyName": policy_name,
        "validationActions": ["Deny"],
        "paramRef": {
            # No namespace: the parameters come from the namespace of the request.
            "selector": {"matchLabels": {labels.PLATFORM_OWNED: "true"}},
            "parameterNotFoundAction": "Allow",
        },
        "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
    }


PLATFORM_LABELS = {labels.PLATFORM_OWNED: "true", "app.kubernetes.io/part-of": "llm-platform"}


def platform_objects_policy(group: str) -> dict[str, Any]:
    """spec of the policy refusing `group` any change to an object of the platform."""
    owned = " || ".join(
        f"({_quote(k)} in l && l[{_quote(k)}] == {_quote(v)})" for k, v in PLATFORM_LABELS.items()
    )
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": ["*"],
                    "apiVersions": ["*"],
                    # Ephemeral containers would run code in the platform's pods, as their accounts.
                    "resources": ["*", "pods/ephemeralcontainers"],
                    "operations": ["CREATE", "UPDATE", "DELETE"],
                    "scope": "Namespaced",
                }
            ]
        },
        "matchConditions": by_group(group),
        "variables": [
            {
                "name": "labels",
                # The labels before and after the change: CREATE has no old object, DELETE no new one.
                "expression": (
                    "(request.operation != 'DELETE' && has(object.metadata.labels) ? [object.metadata.labels] : [])"
                    " + (request.operation != 'CREATE' && has(oldObject.metadata.labels)"
                    " ? [oldObject.metadata.labels] : [])"
                ),
            },
            {"name": "platformOwned", "expression": f"variables.labels.exists(l, {owned})"},
        ],
        "validations": [
            {
                "expression": "!variables.platformOwned",
                "messageExpression": (
                    "'this object belongs to the platform; tenants may not change it: '"
                    " + request.resource.resource + ' ' + request.name"
                ),
                "reason": "Forbidden",
            }
        ],
    }


def platform_objects_binding(policy_name: str, namespace: str) -> dict[str, Any]:
    return {
        "policyName": policy_name,
        "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
    }
