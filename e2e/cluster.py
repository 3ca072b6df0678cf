"""A real Kubernetes control plane on loopback for the e2e: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, and kwok for simulated nodes.

Every component is the real binary (built by scripts/toolchain.sh); only the nodes are
simulated: kwok keeps them Ready and marks the pods the scheduler binds to them Running
and Ready (it runs no containers and no probes). Everything listens on 127.0.0.1 and is
torn down by `stop()`, also when the run fails.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICE_CIDR = "10.96.0.0/16"  # a range only the API server allocates from; nothing routes to it
# Pod IPs kwok hands out. Not loopback: EndpointSlices refuse loopback addresses. The
# benchmarking range of RFC 2544 is routed nowhere, and nothing in the e2e connects to a pod.
POD_CIDR = "198.18.0.0/16"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class LocalCluster:
    """The control plane's files live in `workdir`; `kubeconfig` authenticates as admin."""

    workdir: Path
    endpoint: str = ""
    token: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def token_file(self) -> Path:
        return self.workdir / "admin.token"

    @property
    def ca_data(self) -> str:
        """The CA as EKS returns it in certificateAuthority.data: base64 of the PEM."""
        return base64.b64encode((self.workdir / "ca.crt").read_bytes()).decode()

    def start(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "logs").mkdir(parents=True)
        self._certificates()
        etcd_port, peer_port, api_port = _free_port(), _free_port(), _free_port()
        self.endpoint = f"https://127.0.0.1:{api_port}"
        self._write_kubeconfig()
        w = self.workdir
        self._spawn(
            "etcd",
            ["etcd", "--data-dir", str(w / "etcd"), "--name", "e2e",
             "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-cluster", f"e2e=http://127.0.0.1:{peer_port}",
             "--unsafe-no-fsync", "--quota-backend-bytes", str(2 << 30)],
        )  # fmt: skip
        self._spawn(
            "kube-apiserver",
            ["kube-apiserver", f"--etcd-servers=http://127.0.0.1:{etcd_port}",
             "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
             f"--tls-cert-file={w / 'apiserver.crt'}", f"--tls-private-key-file={w / 'apiserver.key'}",
             f"--client-ca-file={w / 'ca.crt'}", f"--token-auth-file={w / 'tokens.csv'}",
             "--authorization-mode=RBAC", "--allow-privileged=true",
             "--service-account-issuer=https://kubernetes.default.svc",
             f"--service-account-key-file={w / 'sa.pub'}", f"--service-account-signing-key-file={w / 'sa.key'}",
             f"--service-cluster-ip-range={SERVICE_CIDR}", "--profiling=false",
             "--enable-priority-and-fairness=false"],
        )  # fmt: skip
        self._wait(lambda: self._kubectl_ok("get", "--raw", "/readyz"), "the API server to be ready", 120)
        self._spawn(
            "kube-controller-manager",
            ["kube-controller-manager", f"--kubeconfig={self.kubeconfig}", "--leader-elect=false",
             f"--service-account-private-key-file={w / 'sa.key'}", f"--root-ca-file={w / 'ca.crt'}",
             "--use-service-account-credentials=false", "--secure-port=0",
             "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route",
             "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10"],
        )  # fmt: skip
        self._spawn(
            "kube-scheduler",
            ["kube-scheduler", f"--kubeconfig={self.kubeconfig}", "--leader-elect=false", "--secure-port=0"],
        )
        self._spawn(
            "kwok",
            ["kwok", f"--kubeconfig={self.kubeconfig}", "--manage-all-nodes=false",
             "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
             f"--config={shutil.which('kwok-stages.yaml', path=os.environ['PATH'], mode=os.F_OK)}",
             f"--cidr={POD_CIDR}", "--node-ip=127.0.0.1", "--node-lease-duration-seconds=40"],
        )  # fmt: skip
        # The default ServiceAccount appears once the controller manager runs.
        self._wait(
            lambda: self._kubectl_ok("get", "serviceaccount", "default", "-n", "default"),
            "the controller manager to create the default ServiceAccount",
            120,
        )

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.processes.clear()

    def check_running(self) -> None:
        """Fails when a control-plane process has died, naming it and its log."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}; see {self.workdir / 'logs' / name}.log"
                )

    # kubectl, for the e2e's own checks: the program itself talks to the API server
    # only through the Pulumi Kubernetes provider.
    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["kubectl", f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            text=True,
            capture_output=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def apply(self, objects: list[dict[str, Any]]) -> None:
        if objects:
            self.kubectl(
                "apply", "--server-side", "--force-conflicts", "-f", "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
            )  # fmt: skip

    def _kubectl_ok(self, *args: str) -> bool:
        return self.kubectl(*args, check=False).returncode == 0

    def _wait(self, ready: Any, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            if ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.workdir / "logs" / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)

    def _certificates(self) -> None:
        w = self.workdir
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                 "-days", "2", "-subj", "/CN=llm-platform-e2e-ca", cwd=w)  # fmt: skip
        (w / "san.ext").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
            "DNS:kubernetes.default.svc,IP:10.96.0.1\n"
        )
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "apiserver.key", "-out", "apiserver.csr",
                 "-subj", "/CN=kube-apiserver", cwd=w)  # fmt: skip
        _openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "apiserver.crt", "-days", "2", "-extfile", "san.ext", cwd=w)  # fmt: skip
        _openssl("genrsa", "-out", "sa.key", "2048", cwd=w)
        _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=w)
        self.token = secrets.token_hex(24)
        self.token_file.write_text(self.token)
        (w / "tokens.csv").write_text(f"{self.token},e2e-admin,e2e-admin,system:masters\n")

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "e2e",
                    "cluster": {"server": self.endpoint, "certificate-authority-data": self.ca_data},
                }
            ],
            "users": [{"name": "e2e-admin", "user": {"token": self.token}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "e2e-admin"}}],
            "current-context": "e2e",
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2))
