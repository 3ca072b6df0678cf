"""Image references, and the same images through an ECR pull-through cache.

Docker Hub limits anonymous pulls per source address; during an incident, when
every new node pulls the 10 GB serving image at once, that limit is what
fails. An ECR pull-through cache answers from the region's ECR instead, and
fills itself from Docker Hub once per image.
"""

from __future__ import annotations

DOCKER_HUB = "docker.io"
DOCKER_HUB_PREFIX = "docker-hub"
"""The ECR repository prefix of the Docker Hub pull-through cache rule."""
# Registries ECR can cache, by their host, with the prefix the platform gives each.
CACHEABLE = {DOCKER_HUB: DOCKER_HUB_PREFIX}


def split(image: str) -> tuple[str, str]:
    """(registry host, repository:tag) of a reference, Docker's defaulting rules applied:
    no host means Docker Hub, and a single-name Hub image lives under library/."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, image if rest else f"library/{image}"


def through_cache(image: str, ecr_registry: str) -> str:
    """`image` as pulled through the cache in `ecr_registry` (<account>.dkr.ecr.<region>.amazonaws.com),
    or unchanged when its registry is not one the platform caches."""
    host, path = split(image)
    prefix = CACHEABLE.get(host)
    return image if prefix is None else f"{ecr_registry}/{prefix}/{path}"
