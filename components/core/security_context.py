"""The security contexts of the platform's own pods and containers.

Every pod runs as a non-root user with the runtime's default seccomp profile, and every
container without privilege escalation, capabilities or a writable root filesystem: Pod Security
`restricted`, and a read-only root on top. The few that need more (the GPU runtime's and the
telemetry's DaemonSets) say why on their objects.
"""

from __future__ import annotations

from typing import Any


def non_root_pod(uid: int) -> dict[str, Any]:
    """A pod's securityContext: user and group `uid`, never root, seccomp RuntimeDefault."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def hardened_container() -> dict[str, Any]:
    """A container's securityContext: no privilege escalation, read-only root, no capabilities."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
