"""A small NetworkPolicy evaluator for tests: Kubernetes' allow-list semantics, enough to ask
"may this pod receive (or send) this traffic?".

A pod that no policy selects for a direction is open in that direction; a
selected pod admits only what some selecting policy's rule matches (peer and
port). Peers are pods (namespace labels + pod labels) or IP addresses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Peer:
    namespace_labels: dict[str, str] = field(default_factory=dict)
    pod_labels: dict[str, str] = field(default_factory=dict)
    ip: str | None = None
    namespace: str | None = None


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_matches(rule_peer: dict[str, Any], peer: Peer, own_namespace: str) -> bool:
    if "ipBlock" in rule_peer:
        if peer.ip is None:
            return False
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(peer.ip)
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(address in ipaddress.ip_network(e) for e in block.get("except", []))
    if peer.ip is not None and peer.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        if not _selects(rule_peer["namespaceSelector"], peer.namespace_labels):
            return False
    elif peer.namespace != own_namespace:
        return False  # a bare podSelector means pods of the policy's own namespace
    return _selects(rule_peer.get("podSelector"), peer.pod_labels)


def _port_matches(ports: list[dict[str, Any]] | None, protocol: str, port: int) -> bool:
    return ports is None or any(p.get("protocol", "TCP") == protocol and p.get("port") == port for p in ports)


def allowed(
    policies: list[dict[str, Any]],
    *,
    namespace: str,
    pod_labels: dict[str, str],
    direction: str,
    peer: Peer,
    port: int,
    protocol: str = "TCP",
) -> bool:
    """`direction` is "Ingress" (peer -> pod) or "Egress" (pod -> peer)."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p["spec"]
        for p in policies
        if p["metadata"]["namespace"] == namespace
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], pod_labels)
    ]
    if not selecting:
        return True
    for spec in selecting:
        for rule in spec.get(rules_key, []):
            peers = rule.get(peers_key)
            peer_ok = peers is None or any(_peer_matches(rp, peer, namespace) for rp in peers)
            if peer_ok and _port_matches(rule.get("ports"), protocol, port):
                return True
    return False
