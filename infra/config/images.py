"""Config of where the nodes pull images from."""

from __future__ import annotations

from typing import Annotated

from infra.config.base import Model, matching, pattern

_CACHE_SECRET = r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache/[\w+=,.@/-]+"


class ImagesConfig(Model):
    docker_hub_cache_credential_arn: (
        Annotated[
            str,
            matching(
                _CACHE_SECRET,
                "a Secrets Manager secret ARN whose name starts with ecr-pullthroughcache/ "
                "(ECR reads Docker Hub credentials only from such secrets)",
            ),
            pattern(_CACHE_SECRET),
        ]
        | None
    ) = None
    """Pull Docker Hub images (vLLM's) through an ECR pull-through cache in the stack's account and region, with the Docker Hub user and access token in this secret: no anonymous pull limit when every new node pulls at once during an incident. Absent: nodes pull from Docker Hub."""


def ecr_registry(credential_arn: str) -> str:
    """The registry the cache lives in: the secret's account, in its region (the stack's)."""
    parts = credential_arn.split(":")
    partition, region, account = parts[1], parts[3], parts[4]
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"
