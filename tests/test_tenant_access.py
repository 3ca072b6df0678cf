"""Tenant rights: its own Role without the platform's guards, and admission (evaluated with
cel-python) refusing tenants the platform's ServiceAccounts and objects in their namespace."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import Tenant
from components.core import labels
from components.core import tenant_access as access
from tests.admission_eval import Request, refusals
from tests.conftest import RunPulumi
from tests.graph import Graph, props
from tests.rbac_eval import rbac_allows

GROUP = "team-a-developers"
TENANT = [GROUP, "system:authenticated"]
PLATFORM = ["system:masters", "system:authenticated"]
POLICY = "admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
# Every built-in kind that makes pods, with where its pod spec sits.
POD_MAKERS: dict[tuple[str, str], list[str]] = {
    ("", "pods"): ["spec"],
    ("", "replicationcontrollers"): ["spec", "template", "spec"],
    ("apps", "deployments"): ["spec", "template", "spec"],
    ("apps", "replicasets"): ["spec", "template", "spec"],
    ("apps", "statefulsets"): ["spec", "template", "spec"],
    ("apps", "daemonsets"): ["spec", "template", "spec"],
    ("batch", "jobs"): ["spec", "template", "spec"],
    ("batch", "cronjobs"): ["spec", "jobTemplate", "spec", "template", "spec"],
}
SYNC_ACCOUNT = {
    "apiVersion": "v1",
    "kind": "ServiceAccount",
    "metadata": {"name": "qwen-sync", "namespace": "team-a", "labels": labels.platform_owned()},
}
OWN_ACCOUNT = {
    "apiVersion": "v1",
    "kind": "ServiceAccount",
    "metadata": {"name": "my-app", "namespace": "team-a"},
}
ACCOUNTS = [
    SYNC_ACCOUNT,
    OWN_ACCOUNT,
    {**SYNC_ACCOUNT, "metadata": {**SYNC_ACCOUNT["metadata"], "namespace": "b"}},
]


def build(run_pulumi: RunPulumi) -> Graph:
    args: dict[str, Any] = {
        "gpus": 4,
        "cpu": "32",
        "memory": "256Gi",
        "cluster_name": "llm-test",
        "group": GROUP,
        "load_balancer_cidrs": ["10.40.192.0/20"],
        "storage_cidrs": ["10.40.0.0/18"],
    }

    def program() -> None:
        providers = [aws.Provider("aws", region="us-east-1"), k8s.Provider("k8s", kubeconfig="{}")]
        Tenant("team-a", args, pulumi.ResourceOptions(providers=providers))  # type: ignore[arg-type]

    return run_pulumi(program)


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build(run_pulumi)


def _policies(graph: Graph) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    bindings = {props(b)["spec"]["policyName"]: props(b)["spec"] for b in graph.of_type(BINDING)}
    return {
        props(p)["metadata"]["name"]: (props(p)["spec"], bindings[props(p)["metadata"]["name"]])
        for p in graph.of_type(POLICY)
    }


def _refused(graph: Graph, req: Request, params: list[dict[str, Any]] | None = None) -> list[str]:
    return [
        m for policy, binding in _policies(graph).values() for m in refusals(policy, binding, req, params)
    ]


def _pod_maker(group: str, resource: str, account: str | None, legacy: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if account is not None:
        spec["serviceAccount" if legacy else "serviceAccountName"] = account
    obj: dict[str, Any] = {"metadata": {"name": "x", "namespace": "team-a"}}
    path = POD_MAKERS[(group, resource)]
    node = obj
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = spec
    return obj


def _create(
    group: str, resource: str, obj: dict[str, Any], who: list[str], namespace: str = "team-a"
) -> Request:
    return Request("CREATE", group, resource, namespace, object=obj, groups=who)


# --- RBAC -------------------------------------------------------------------------------


def test_the_group_is_bound_to_the_tenant_role_not_to_edit(graph: Graph) -> None:
    binding = props(graph.one("rbac.authorization.k8s.io/v1:RoleBinding"))
    role = props(graph.one("rbac.authorization.k8s.io/v1:Role"))
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"] == "team-a"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": GROUP}]
    assert role["rules"] == access.TENANT_RULES
    assert graph.of_type("ClusterRoleBinding") == [] and graph.of_type("ClusterRole") == []


@pytest.mark.parametrize(
    ("group", "resource"),
    [
        ("networking.k8s.io", "networkpolicies"),
        ("", "resourcequotas"),
        ("", "limitranges"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("networking.k8s.io", "ingresses"),
        ("apps", "daemonsets"),
        ("", "namespaces"),
    ],
)
def test_tenants_may_read_but_not_change_the_platforms_guards(group: str, resource: str) -> None:
    for verb in ("create", "update", "patch", "delete", "deletecollection"):
        assert not rbac_allows(access.TENANT_RULES, verb, group, resource), (verb, resource)
    assert rbac_allows(access.TENANT_RULES, "list", group, resource)


def test_tenants_can_neither_act_as_nor_mint_tokens_for_service_accounts() -> None:
    assert not rbac_allows(access.TENANT_RULES, "impersonate", "", "serviceaccounts")
    assert not rbac_allows(access.TENANT_RULES, "create", "", "serviceaccounts/token")
    assert not rbac_allows(access.TENANT_RULES, "escalate", "rbac.authorization.k8s.io", "roles")
    assert not rbac_allows(access.TENANT_RULES, "bind", "rbac.authorization.k8s.io", "roles")
    assert not any(
        "*" in r["verbs"] or "*" in r["resources"] or "*" in r["apiGroups"] for r in access.TENANT_RULES
    )


def test_tenants_keep_what_they_run_models_and_tools_with() -> None:
    for group, resource in [
        ("", "pods"),
        ("", "pods/exec"),
        ("", "services"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "persistentvolumeclaims"),
        ("", "serviceaccounts"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
    ]:
        assert rbac_allows(access.TENANT_RULES, "create", group, resource), resource
        assert rbac_allows(access.TENANT_RULES, "delete", group, resource), resource


def test_every_pod_maker_tenants_may_create_is_checked_for_its_service_account(graph: Graph) -> None:
    for group, resource in POD_MAKERS:
        if not rbac_allows(access.TENANT_RULES, "create", group, resource):
            continue
        refused = _refused(
            graph, _create(group, resource, _pod_maker(group, resource, "qwen-sync"), TENANT), ACCOUNTS
        )
        assert refused == ["pods of tenants may not run as the platform ServiceAccount qwen-sync"], resource


# --- admission: the platform's ServiceAccounts --------------------------------------------


@pytest.mark.parametrize(("group", "resource"), list(POD_MAKERS))
def test_tenant_pods_may_not_run_as_a_platform_service_account(
    graph: Graph, group: str, resource: str
) -> None:
    def refused(
        account: str | None, who: list[str] = TENANT, legacy: bool = False, ns: str = "team-a"
    ) -> bool:
        obj = _pod_maker(group, resource, account, legacy)
        return bool(_refused(graph, _create(group, resource, obj, who, ns), ACCOUNTS))

    assert refused("qwen-sync")
    assert refused("qwen-sync", legacy=True)  # the deprecated field names the account too
    assert not refused("my-app") and not refused(None)  # their own accounts, or the default one
    assert not refused("qwen-sync", who=PLATFORM)  # the platform runs its own pods
    assert not refused("qwen-sync", ns="b")  # another tenant's binding, another namespace
    update = Request(
        "UPDATE", group, resource, "team-a", _pod_maker(group, resource, "qwen-sync"), {}, TENANT
    )
    assert _refused(graph, update, ACCOUNTS)


def test_without_platform_accounts_in_the_namespace_nothing_is_refused(graph: Graph) -> None:
    obj = _pod_maker("", "pods", "qwen-sync")
    assert _refused(graph, _create("", "pods", obj, TENANT), [OWN_ACCOUNT]) == []


# --- admission: the platform's objects ----------------------------------------------------


def _deployment(label: dict[str, str] | None, account: str = "my-app") -> dict[str, Any]:
    obj = _pod_maker("apps", "deployments", account)
    if label is not None:
        obj["metadata"]["labels"] = label
    return obj


@pytest.mark.parametrize("label", [labels.PART_OF, {labels.PLATFORM_OWNED: "true"}])
def test_tenants_may_not_change_delete_or_forge_the_platforms_objects(
    graph: Graph, label: dict[str, str]
) -> None:
    ours, theirs = _deployment(label), _deployment({"app": "mine"})
    for who, refused in ((TENANT, True), (PLATFORM, False)):
        assert (
            bool(_refused(graph, Request("UPDATE", "apps", "deployments", "team-a", theirs, ours, who)))
            is refused
        )
        assert (
            bool(_refused(graph, Request("DELETE", "apps", "deployments", "team-a", None, ours, who)))
            is refused
        )
        assert (
            bool(_refused(graph, Request("CREATE", "apps", "deployments", "team-a", ours, None, who)))
            is refused
        )
    # Their own objects stay theirs.
    assert _refused(graph, Request("UPDATE", "apps", "deployments", "team-a", theirs, theirs, TENANT)) == []
    assert (
        _refused(
            graph, Request("DELETE", "", "configmaps", "team-a", None, {"metadata": {"name": "c"}}, TENANT)
        )
        == []
    )
    assert (
        _refused(graph, Request("CREATE", "", "secrets", "team-a", {"metadata": {"name": "s"}}, None, TENANT))
        == []
    )


def test_tenants_may_not_add_ephemeral_containers_to_platform_pods(graph: Graph) -> None:
    pod = {"metadata": {"name": "qwen-0", "labels": labels.standard("qwen", labels.INFERENCE)}}
    req = Request("UPDATE", "", "pods", "team-a", pod, pod, TENANT, sub_resource="ephemeralcontainers")
    assert _refused(graph, req)


# --- the objects as sent ------------------------------------------------------------------


def test_policies_are_bound_to_the_tenant_namespace_only_after_they_exist(graph: Graph) -> None:
    policies = {p.name: p for p in graph.of_type(POLICY)}
    assert sorted(policies) == [
        "tenant-team-a-platform-accounts-cronjobs",
        "tenant-team-a-platform-accounts-pods",
        "tenant-team-a-platform-accounts-workloads",
        "tenant-team-a-platform-objects",
    ]
    for b in graph.of_type(BINDING):
        spec = props(b)["spec"]
        assert graph.depends_on(b, policies[spec["policyName"]])
        assert spec["validationActions"] == ["Deny"]
        assert spec["matchResources"]["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": "team-a"}
        }
    for p in policies.values():
        spec = props(p)["spec"]
        assert spec["failurePolicy"] == "Fail"
        assert all(r["scope"] == "Namespaced" for r in spec["matchConstraints"]["resourceRules"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_pod_identity_account_in_a_tenant_namespace_is_a_platform_parameter(
    planned: Callable[[str], Path], stack: str
) -> None:
    """The policy's parameters are the ServiceAccounts labelled platform-owned: every account
    with a Pod Identity role in a tenant namespace must carry the label."""
    out = planned(stack)
    records = json.loads((out / "resources.json").read_text())
    tenants = {r["name"] for r in records if r["type"] == "llmplatform:index:Tenant"}
    associated = {
        (r["props"]["namespace"], r["props"]["serviceAccount"])
        for r in records
        if r["type"] == "aws:eks/podIdentityAssociation:PodIdentityAssociation"
        and r["props"]["namespace"] in tenants
    }
    assert associated
    accounts = {}
    for path in (out / "manifests").glob("serviceaccount-*.yaml"):
        obj = yaml.safe_load(path.read_text())
        accounts[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj["metadata"].get("labels", {})
    for key in associated:
        assert accounts[key].get(labels.PLATFORM_OWNED) == "true", key
