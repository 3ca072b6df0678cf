"""Where model files live: one layout shared by the bucket, the EFS volume, sync jobs and vLLM."""

from __future__ import annotations

MODELS_MOUNT = "/models"
"""Mount path of a model's volume in sync jobs and serving pods."""

MODEL_FILES_UID = 10001
MODEL_FILES_GID = 10001
"""The POSIX identity every EFS access point enforces: all model files belong to it,
whatever user a container runs as."""


def model_prefix(model: str) -> str:
    """Key prefix of all revisions of a model in the bucket; IAM policies are scoped to it."""
    return f"models/{model}/"


def revision_prefix(model: str, revision: str) -> str:
    """Key prefix of one revision: revisions never share files, so a new one cannot
    overwrite the one being served."""
    return f"{model_prefix(model)}{revision}/"


def revision_path(revision: str) -> str:
    """Directory of one revision on the model's volume."""
    return f"{MODELS_MOUNT}/{revision}"
