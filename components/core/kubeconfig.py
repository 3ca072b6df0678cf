"""Kubeconfig for an EKS cluster that authenticates with `aws eks get-token` on every call.

No token is stored: whoever runs Pulumi (or kubectl) authenticates with their
own AWS credentials, and EKS access entries decide what they may do.
"""

from __future__ import annotations

import json


def eks_kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    context = f"llm-platform-{cluster_name}"
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": context,
                    "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
                }
            ],
            "users": [
                {
                    "name": context,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        },
        indent=2,
    )


def region_of_arn(arn: str) -> str:
    """arn:aws:eks:us-east-1:123456789012:cluster/name -> us-east-1"""
    return arn.split(":")[3]
