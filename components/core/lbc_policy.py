"""IAM permissions of the AWS Load Balancer Controller v3.5.0.

The statements are those of the controller's published policy
(kubernetes-sigs/aws-load-balancer-controller, docs/install/iam_policy.json at
tag v3.5.0: 16 statements, 86 action entries), with one narrowing its
installation guide recommends: security-group ingress changes (statement 4)
are limited to the cluster's VPC.
"""

from __future__ import annotations

from typing import Any

from components.core.iam import Statement, document

_ELB = "elasticloadbalancing"
_TAG_REQUEST = "aws:RequestTag/elbv2.k8s.aws/cluster"
_TAG_RESOURCE = "aws:ResourceTag/elbv2.k8s.aws/cluster"

_DESCRIBE_EC2 = [
    "DescribeAccountAttributes", "DescribeAddresses", "DescribeAvailabilityZones", "DescribeInternetGateways",
    "DescribeVpcs", "DescribeVpcPeeringConnections", "DescribeSubnets", "DescribeSecurityGroups",
    "DescribeInstances", "DescribeNetworkInterfaces", "DescribeTags", "GetCoipPoolUsage", "DescribeCoipPools",
    "GetSecurityGroupsForVpc", "DescribeIpamPools", "DescribeRouteTables",
]  # fmt: skip
_DESCRIBE_ELB = [
    "DescribeLoadBalancers", "DescribeLoadBalancerAttributes", "DescribeListeners", "DescribeListenerCertificates",
    "DescribeSSLPolicies", "DescribeRules", "DescribeTargetGroups", "DescribeTargetGroupAttributes",
    "DescribeTargetHealth", "DescribeTags", "DescribeTrustStores", "DescribeListenerAttributes",
    "DescribeCapacityReservation",
]  # fmt: skip
_ADDONS = [
    "cognito-idp:DescribeUserPoolClient", "acm:ListCertificates", "acm:DescribeCertificate",
    "iam:ListServerCertificates", "iam:GetServerCertificate", "waf-regional:GetWebACL",
    "waf-regional:GetWebACLForResource", "waf-regional:AssociateWebACL", "waf-regional:DisassociateWebACL",
    "wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
    "shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection", "shield:DeleteProtection",
]  # fmt: skip
_MODIFY_OWN = [
    "ModifyLoadBalancerAttributes", "SetIpAddressType", "SetSecurityGroups", "SetSubnets", "DeleteLoadBalancer",
    "ModifyTargetGroup", "ModifyTargetGroupAttributes", "DeleteTargetGroup", "ModifyListenerAttributes",
    "ModifyCapacityReservation", "ModifyIpPools",
]  # fmt: skip
_LISTENER_CHANGES = [
    "SetWebAcl", "ModifyListener", "AddListenerCertificates", "RemoveListenerCertificates", "ModifyRule",
    "SetRulePriorities",
]  # fmt: skip
_ELB_TAGGABLE = [
    f"arn:aws:{_ELB}:*:*:targetgroup/*/*",
    f"arn:aws:{_ELB}:*:*:loadbalancer/net/*/*",
    f"arn:aws:{_ELB}:*:*:loadbalancer/app/*/*",
]
_SECURITY_GROUPS = "arn:aws:ec2:*:*:security-group/*"


def _allow(actions: list[str], resource: Any = "*", condition: dict[str, Any] | None = None) -> Statement:
    statement: Statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def load_balancer_controller_policy(vpc_arn: str) -> str:
    owned = {"Null": {_TAG_RESOURCE: "false"}}
    tagging_new = {"Null": {_TAG_REQUEST: "false"}}
    retagging_owned = {"Null": {_TAG_REQUEST: "true", _TAG_RESOURCE: "false"}}
    return document(
        _allow(
            ["iam:CreateServiceLinkedRole"],
            condition={"StringEquals": {"iam:AWSServiceName": f"{_ELB}.amazonaws.com"}},
        ),
        _allow([f"ec2:{a}" for a in _DESCRIBE_EC2] + [f"{_ELB}:{a}" for a in _DESCRIBE_ELB]),
        _allow(list(_ADDONS)),
        _allow(
            ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            condition={"ArnEquals": {"ec2:Vpc": vpc_arn}},
        ),
        _allow(["ec2:CreateSecurityGroup"]),
        _allow(
            ["ec2:CreateTags"],
            _SECURITY_GROUPS,
            {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **tagging_new},
        ),
        _allow(["ec2:CreateTags", "ec2:DeleteTags"], _SECURITY_GROUPS, retagging_owned),
        _allow(
            [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            condition=owned,
        ),
        _allow([f"{_ELB}:CreateLoadBalancer", f"{_ELB}:CreateTargetGroup"], condition=tagging_new),
        _allow([f"{_ELB}:{a}" for a in ("CreateListener", "DeleteListener", "CreateRule", "DeleteRule")]),
        _allow([f"{_ELB}:AddTags", f"{_ELB}:RemoveTags"], list(_ELB_TAGGABLE), retagging_owned),
        _allow(
            [f"{_ELB}:AddTags", f"{_ELB}:RemoveTags"],
            [
                f"arn:aws:{_ELB}:*:*:{kind}/{lb}/*/*/*"
                for kind in ("listener", "listener-rule")
                for lb in ("net", "app")
            ],
        ),
        _allow([f"{_ELB}:{a}" for a in _MODIFY_OWN], condition=owned),
        _allow(
            [f"{_ELB}:AddTags"],
            list(_ELB_TAGGABLE),
            {
                "StringEquals": {f"{_ELB}:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                **tagging_new,
            },
        ),
        _allow(
            [f"{_ELB}:RegisterTargets", f"{_ELB}:DeregisterTargets"], f"arn:aws:{_ELB}:*:*:targetgroup/*/*"
        ),
        _allow([f"{_ELB}:{a}" for a in _LISTENER_CHANGES]),
    )
