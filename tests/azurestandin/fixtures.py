"""Start/stop the stand-in for tests and run playbooks through it.

The stand-in and the Azure modules run with .venv-azure's Python (azure.azcollection's
requirements, `make azure-venv`); ansible-playbook itself runs from the shared .venv.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testlib import REPO, base_env

AZURE_VENV = Path(os.environ.get("KUBIYA_AZURE_VENV", REPO / ".venv-azure"))
AZURE_PY = AZURE_VENV / "bin" / "python"


def azure_venv_ready() -> bool:
    return AZURE_PY.exists() and (AZURE_VENV / ".installed").exists()


@dataclass
class StandIn:
    state_dir: Path
    proc: subprocess.Popen
    info: dict = field(default_factory=dict)
    deployer: dict = field(default_factory=dict)

    @property
    def proxy(self) -> str:
        return self.info["proxy"]

    def env(self, **extra: str) -> dict[str, str]:
        """What ansible-playbook needs: proxy, test CA, deployer credentials, nothing else."""
        env = base_env()
        for k in [k for k in env if k.upper() in ("NO_PROXY", "ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY")
                  or k.startswith("AZURE_")]:
            env.pop(k)
        env.update({
            "HTTPS_PROXY": self.proxy, "https_proxy": self.proxy,
            "REQUESTS_CA_BUNDLE": self.info["ca"], "SSL_CERT_FILE": self.info["ca"],
            "CURL_CA_BUNDLE": self.info["ca"],
            "AZURE_CLIENT_ID": self.deployer["client_id"], "AZURE_SECRET": self.deployer["secret"],
            "AZURE_TENANT": self.deployer["tenant"], "AZURE_SUBSCRIPTION_ID": self.deployer["subscription_id"],
            "ANSIBLE_PYTHON_INTERPRETER": str(AZURE_PY),
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
        })
        env.update(extra)
        return env

    def admin(self, path: str, method: str = "GET"):
        req = urllib.request.Request(self.proxy + path, method=method)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def state(self) -> dict:
        return self.admin("/_standin/state")

    def log(self) -> list[dict]:
        return self.admin("/_standin/log")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start(state_dir: Path, python: Path = AZURE_PY) -> StandIn:
    state_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests"))
    for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(k, None)
    log = open(state_dir / "standin.log", "wb")  # noqa: SIM115  pylint: disable=consider-using-with
    proc = subprocess.Popen([str(python), "-m", "azurestandin.server", "--state-dir", str(state_dir)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    endpoints = state_dir / "endpoints.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stand-in exited: {(state_dir / 'standin.log').read_text()[-3000:]}")
        if endpoints.exists():
            try:
                info = json.loads(endpoints.read_text())
                break
            except ValueError:
                pass
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("stand-in did not start within 60 s")
    return StandIn(state_dir, proc, info, json.loads((state_dir / "deployer.json").read_text()))


def run_playbook(standin: StandIn, playbook: Path, extra_vars: dict, *args: str,
                 timeout: float = 900) -> subprocess.CompletedProcess:
    ev = standin.state_dir / f"extra-{time.monotonic_ns()}.json"
    ev.write_text(json.dumps(extra_vars))
    ev.chmod(0o600)
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
           str(playbook), "-e", f"@{ev}", *args]
    return subprocess.run(cmd, env=standin.env(), text=True, capture_output=True, timeout=timeout,
                          cwd=str(REPO), check=False)
