"""A local OCI chart registry for tests: tests/registry/up.sh in a private directory and port.

`Registry.start(tmp)` runs up.sh (TLS with a generated CA, htpasswd credentials) and
signing-key.sh (a GPG key, legacy keyrings for helm); `package`, `login`, `push`, `pull`
drive the real helm against it with a run-private HELM_REGISTRY_CONFIG.
"""
from __future__ import annotations

import json
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testlib import REPO, base_env

HERE = REPO / "tests" / "registry"
SIGNING_NAME = "kubiya-runners test signing key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Registry:
    state: Path
    port: int

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return base_env(KUBIYA_REGISTRY_DIR=str(self.state), KUBIYA_REGISTRY_PORT=str(self.port),
                        HELM_REGISTRY_CONFIG=str(self.state / "helm-registry.json"))

    @property
    def credentials(self) -> dict:
        return json.loads((self.state / "credentials.json").read_text())

    @property
    def ca_file(self) -> str:
        return str(self.state / "tls" / "ca.crt")

    @property
    def pubring(self) -> str:
        return str(self.state / "keyring" / "pubring.gpg")

    @classmethod
    def start(cls, state: Path) -> "Registry":
        reg = cls(state, free_port())
        try:
            for script in ("up.sh", "signing-key.sh"):
                subprocess.run([str(HERE / script)], env=reg.env, check=True, capture_output=True, text=True, timeout=120)
        except BaseException:
            reg.stop()  # up.sh may have started it: never leave a registry behind a failed start
            raise
        return reg

    def stop(self, purge: bool = False) -> None:
        subprocess.run([str(HERE / "down.sh"), *(["--purge"] if purge else [])], env=self.env, check=False,
                       capture_output=True, timeout=60)

    def helm(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["helm", *args], env=self.env, input=stdin, text=True, capture_output=True,
                              timeout=300, check=check)

    def login(self, password: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        creds = self.credentials
        return self.helm("registry", "login", self.host, "--username", creds["username"], "--password-stdin",
                         "--ca-file", self.ca_file, stdin=password if password is not None else creds["password"],
                         check=check)

    def package(self, chart: Path, dest: Path) -> Path:
        """helm package --sign with the test key: the archive and its .prov in dest. A chart of a
        fresh clone gets its dependency archives first (tools/chart-deps.sh; git ignores them)."""
        if (chart / "Chart.lock").exists() and not (chart / "charts").is_dir():
            subprocess.run(["bash", str(chart.parent.parent / "tools" / "chart-deps.sh"), str(chart.parent)],
                           env=self.env, check=True, capture_output=True, text=True, timeout=300)
        out = self.helm("package", str(chart), "--destination", str(dest), "--sign", "--key", SIGNING_NAME,
                        "--keyring", str(self.state / "keyring" / "secring.gpg"))
        return Path(out.stdout.strip().rsplit(": ", 1)[-1])

    def push(self, archive: Path, project: str = "charts") -> subprocess.CompletedProcess:
        return self.helm("push", str(archive), f"oci://{self.host}/{project}", "--ca-file", self.ca_file)

    def pull(self, name: str, version: str, dest: Path, verify: bool = True, keyring: str | None = None,
             project: str = "charts", check: bool = True) -> subprocess.CompletedProcess:
        return self.helm("pull", f"oci://{self.host}/{project}/{name}", "--version", version,
                         "--destination", str(dest), "--ca-file", self.ca_file,
                         *(["--verify", "--keyring", keyring or self.pubring] if verify else []), check=check)
