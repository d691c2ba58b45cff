"""The runner's telemetry pipeline, for real, on this machine.

What runs (every process bound to a 127.x address; pod IPs of the test cluster are
127.1.x.y, so "the pod's address" is a loopback address here):

- the chart, ``helm install``-ed into a namespace of the local cluster with
  ``telemetry.collector=prometheus-agent`` (Alloy cannot be built here, see README);
- kube-state-metrics (built from its Go module) with EXACTLY the rendered container args
  of the chart's Deployment, plus ``--host``/``--telemetry-host`` = the KSM pod's IP, and a
  kubeconfig holding only a TokenRequest token of the chart's ``kube-state-metrics``
  ServiceAccount and the cluster CA (what the pod would get mounted);
- stand-ins for the app containers (``standin.py``), bound to the other pods' IPs and
  container ports: the real apps cannot run on kwok nodes;
- Prometheus in agent mode (built from its Go module, the version the chart's image pins)
  with the rendered ``prometheus.yml`` of the release. The only edits are those Kubernetes
  does for a pod: the in-cluster API access (``api_server``, the alloy ServiceAccount token
  file, the CA file) and the path of the mounted client-secret file; args as rendered,
  except the config/storage paths and ``--web.listen-address`` = the alloy pod's IP.
  With ``egress`` set (the Azure end-to-end test), also what the pod's network gives it:
  ``proxy_url`` (the Azure stand-in's proxy) and ``tls_config.ca_file`` (its test CA) on the
  remote write and on its oauth2 block; URLs, client id, scopes stay as rendered.

Used by tests/pipeline/test_*.py (pytest fixtures) and measure_cost.py (a script).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import yaml

from testlib import REPO, run_adhoc

HERE = Path(__file__).resolve().parent
CHART = REPO / "charts" / "kubiya-runner"
CHECKS_FILE = CHART / "metrics-checks.yaml"
CACHE = Path(os.environ.get("KUBIYA_CACHE_DIR", Path.home() / ".cache" / "kubiya-runners"))
VERSIONS = dict(line.split("=", 1) for line in (REPO / "tools" / "versions.env").read_text().splitlines()
                if line and not line.startswith("#"))
PROMETHEUS_VERSION = VERSIONS["PROMETHEUS_VERSION"]  # = alloy.prometheusAgent.image.tag
KSM_VERSION = VERSIONS["KUBE_STATE_METRICS_VERSION"]
RELEASE = "kr"


def _bin(name: str, version: str, env_var: str) -> str:
    candidates = [os.environ.get(env_var, ""), str(REPO / ".tools" / "bin" / name),
                  str(CACHE / "bin" / f"{name}-{version}" / name)]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise RuntimeError(f"{name} {version} not found: run make setup (tools/build.sh) ({env_var} overrides)")


def prometheus_bin() -> str:
    return _bin("prometheus", PROMETHEUS_VERSION, "KUBIYA_PROMETHEUS_BIN")


def ksm_bin() -> str:
    return _bin("kube-state-metrics", KSM_VERSION, "KUBIYA_KSM_BIN")


def helm_bin() -> str:
    return _bin("helm", "v3.22.0", "KUBIYA_HELM_BIN")


def fake_nats_creds() -> str:
    return ("-----BEGIN NATS USER JWT-----\n" + secrets.token_urlsafe(48) +
            "\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSU"
            + secrets.token_hex(28).upper() + "\n------END USER NKEY SEED------\n")


def load_checks(collector: str = "prometheus-agent", workflow_engine: bool = False) -> list[dict]:
    """The default check set of metrics-checks.yaml for one collector."""
    doc = yaml.safe_load(CHECKS_FILE.read_text())
    out = list(doc["checks"]) + list(doc["collectors"][collector])
    if workflow_engine:
        out += doc["workflowEngine"]
    return out


def assert_loopback(host: str) -> None:
    if not host.startswith("127."):
        raise RuntimeError(f"refusing to use non-loopback address {host!r}")


def wait_for(fn, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except Exception as exc:  # noqa: BLE001  keep polling, report the last error
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what}: not true after {timeout:.0f}s (last: {last!r})")


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    assert_loopback(urllib.parse.urlsplit(url).hostname or "")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


class Procs:
    """Processes this pipeline started; stopped by PID (TERM, 10 s, KILL), never by name."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115  closed with the process
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        log.close()
        self.procs[name] = p
        return p

    def alive(self, name: str) -> bool:
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def log(self, name: str, tail: int = 3000) -> str:
        f = self.logdir / f"{name}.log"
        return f.read_text(errors="replace")[-tail:] if f.exists() else ""

    def stop(self, name: str, sig: int = signal.SIGTERM, wait: float = 10) -> None:
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


class Pipeline:
    """One runner release in ``namespace`` and the processes that stand for its pods."""

    def __init__(self, env: dict, namespace: str, central, workdir: Path,
                 scrape_interval: str = "60s", runner: str | None = None,
                 organization: str = "pipeline-org", release: str = RELEASE):
        self.env, self.namespace, self.central = env, namespace, central
        self.release = release
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self.runner = runner or f"pl-{secrets.token_hex(3)}"
        self.organization = organization
        self.scrape_interval = scrape_interval
        self.procs = Procs(self.workdir)
        self.manifest: list[dict] = []
        self.pods: list[dict] = []
        # {"proxy_url": ..., "ca_file": ...}: how the collector reaches hosts outside the
        # machine (the Azure stand-in answers for them); None: the URLs are loopback ones
        self.egress: dict | None = None

    # ------------------------------------------------------------------ cluster
    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        p = subprocess.run(["kubectl", *args], env=self.env, text=True, input=input,
                           capture_output=True, timeout=120, check=False)
        if check and p.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {p.stderr}")
        return p.stdout

    def helm(self, *args: str) -> str:
        p = subprocess.run([helm_bin(), *args], env=self.env, text=True, capture_output=True,
                           timeout=600, check=False)
        if p.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args[:2])}: {p.stderr}")
        return p.stdout

    def values(self) -> dict:
        c = self.central
        return {
            "global": {"runner": {"name": self.runner, "organization": self.organization,
                                  "uuid": str(uuid.uuid4())},
                       "nats": {"operatorCreds": fake_nats_creds(), "runnerCreds": fake_nats_creds()}},
            "telemetry": {"collector": "prometheus-agent", "scrapeInterval": self.scrape_interval, "remoteWrite": {
                "url": c.remote_write_url,
                "oauth2": {"clientId": c.collector.client_id, "tokenUrl": c.token_url,
                           "clientSecret": c.collector.client_secret}}},
        }

    def install(self) -> None:
        for url in (self.central.remote_write_url, self.central.token_url):
            assert_loopback(urllib.parse.urlsplit(url).hostname or "")
        vfile = self.workdir / "values.yaml"
        vfile.write_text(yaml.safe_dump(self.values()))
        os.chmod(vfile, 0o600)
        # dagger is privileged (documented chart exception)
        self.kubectl("label", "namespace", self.namespace, "--overwrite",
                     "pod-security.kubernetes.io/enforce=privileged")
        self.helm("install", self.release, str(CHART), "-n", self.namespace, "-f", str(vfile),
                  "--wait", "--timeout", "4m")
        self.attach()

    def attach(self) -> None:
        """Read the manifest and the running pods of the installed release ``self.release``
        (installed by install() or by anything else, e.g. the runner role in ``make demo``)."""
        self.manifest = [d for d in yaml.safe_load_all(
            self.helm("get", "manifest", self.release, "-n", self.namespace)) if d]
        self.pods = wait_for(self._running_pods, 120, "every pod Running with an IP")
        outside = sorted({p["status"]["podIP"] for p in self.pods if not p["status"]["podIP"].startswith("127.")})
        if outside:  # never scrape them: they could be another host's addresses
            raise RuntimeError(f"pod IPs {outside} are not loopback addresses: this cluster predates "
                               "KUBIYA_POD_CIDR=127.1.0.0/16; restart it (make cluster-down cluster-up) "
                               "or use another one (KUBIYA_EXISTING_CLUSTER=1 KUBECONFIG=...)")

    def _running_pods(self) -> list[dict]:
        items = json.loads(self.kubectl("get", "pods", "-n", self.namespace, "-o", "json"))["items"]
        pods = [p for p in items if p["status"].get("phase") == "Running"]
        if not pods or len(pods) < len(items) - sum(1 for p in items if p["status"].get("phase") == "Succeeded"):
            return []
        if any(not p["status"].get("podIP") for p in pods):
            return []
        return pods

    def rendered(self, kind: str, name: str) -> dict:
        return next(d for d in self.manifest if d["kind"] == kind and d["metadata"]["name"] == name)

    def pods_of(self, component: str) -> list[dict]:
        return [p for p in self.pods
                if p["metadata"]["labels"].get("app.kubernetes.io/component") == component]

    def apiserver(self) -> str:
        url = self.kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
        assert_loopback(urllib.parse.urlsplit(url).hostname or "")
        return url

    def sa_files(self, sa: str) -> tuple[Path, Path]:
        """(token file, CA file) as mounted into a pod of ``sa``: TokenRequest + kube-root-ca.crt."""
        token = self.kubectl("create", "token", sa, "-n", self.namespace, "--duration", "2h").strip()
        ca = json.loads(self.kubectl("get", "configmap", "kube-root-ca.crt", "-n", self.namespace,
                                     "-o", "json"))["data"]["ca.crt"]
        d = self.workdir / "sa" / sa
        d.mkdir(parents=True, exist_ok=True)
        (d / "token").write_text(token)
        (d / "ca.crt").write_text(ca)
        os.chmod(d / "token", 0o600)
        return d / "token", d / "ca.crt"

    def sa_kubeconfig(self, sa: str) -> Path:
        token, ca = self.sa_files(sa)
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": "pod",
              "clusters": [{"name": "in-cluster", "cluster": {"server": self.apiserver(),
                                                              "certificate-authority": str(ca)}}],
              "users": [{"name": sa, "user": {"tokenFile": str(token)}}],
              "contexts": [{"name": "pod", "context": {"cluster": "in-cluster", "user": sa,
                                                       "namespace": self.namespace}}]}
        path = self.workdir / "sa" / sa / "kubeconfig"
        path.write_text(yaml.safe_dump(kc))
        os.chmod(path, 0o600)
        return path

    # ------------------------------------------------------------------ processes
    def container(self, deployment: str) -> dict:
        return self.rendered("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]

    def ksm_args(self) -> list[str]:
        return list(self.container("kube-state-metrics")["args"])

    def start_kube_state_metrics(self) -> str:
        pod = self.pods_of("kube-state-metrics")[0]
        ip = pod["status"]["podIP"]
        kc = self.sa_kubeconfig("kube-state-metrics")
        argv = [ksm_bin(), *self.ksm_args(), f"--host={ip}", f"--telemetry-host={ip}",
                f"--kubeconfig={kc}"]
        self.procs.start("kube-state-metrics", argv)
        port = self.container_port(self.container("kube-state-metrics"), "http-metrics")
        wait_for(lambda: http_get(f"http://{ip}:{port}/metrics")[0] == 200, 60,
                 "kube-state-metrics serving /metrics")
        return f"{ip}:{port}"

    @staticmethod
    def container_port(container: dict, name: str) -> int:
        return next(p["containerPort"] for p in container.get("ports", []) if p["name"] == name)

    def start_standins(self) -> list[str]:
        """Stand-ins for the app containers that expose a port (the apps cannot run here)."""
        started = []
        for pod in self.pods:
            comp = pod["metadata"]["labels"].get("app.kubernetes.io/component")
            if comp in ("kube-state-metrics", "alloy"):
                continue
            ip = pod["status"]["podIP"]
            for c in pod["spec"]["containers"]:
                health = [probe["httpGet"]["path"] for probe in
                          (c.get("livenessProbe"), c.get("readinessProbe")) if probe and "httpGet" in probe]
                for port in c.get("ports", []):
                    argv = [sys.executable, str(HERE / "standin.py"), "--listen",
                            f"{ip}:{port['containerPort']}", "--component", comp]
                    for h in sorted(set(health)) or ["/healthz"]:
                        argv += ["--health", h]
                    name = f"standin-{pod['metadata']['name']}-{c['name']}-{port['containerPort']}"
                    self.procs.start(name, argv)
                    started.append(f"{ip}:{port['containerPort']}")
        for addr in started:
            host, port = addr.rsplit(":", 1)
            wait_for(lambda h=host, p=int(port): _connects(h, p), 20, f"stand-in on {addr}")
        return started

    def agent_config(self, client_secret: str | None = None) -> tuple[Path, dict, dict]:
        """(config file, rendered config, config as run): only the pod-provided parts differ."""
        rendered = yaml.safe_load(self.rendered("ConfigMap", "alloy")["data"]["prometheus.yml"])
        cfg = json.loads(json.dumps(rendered))
        token, ca = self.sa_files("alloy")
        server = self.apiserver()
        for sc in cfg["scrape_configs"]:
            for sd in sc.get("kubernetes_sd_configs", []):
                sd.update(api_server=server, authorization={"credentials_file": str(token)},
                          tls_config={"ca_file": str(ca)})
        secret_file = self.write_client_secret(client_secret if client_secret is not None
                                               else self.central.collector.client_secret)
        for rw in cfg["remote_write"]:
            if "oauth2" in rw:
                rw["oauth2"]["client_secret_file"] = str(secret_file)
            if self.egress:
                for block in (rw, rw.get("oauth2")):
                    if block is not None:
                        block["proxy_url"] = self.egress["proxy_url"]
                        block.setdefault("tls_config", {})["ca_file"] = self.egress["ca_file"]
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path, rendered, cfg

    def write_client_secret(self, value: str) -> Path:
        """The mounted client-secret file, replaced atomically (as the kubelet updates a mounted
        Secret: the collector re-reads the file and sees the old or the new value, never half)."""
        secret_file = self.workdir / "remote-write-client-secret"
        tmp = self.workdir / ".remote-write-client-secret.tmp"
        tmp.write_text(value)
        os.chmod(tmp, 0o600)
        os.replace(tmp, secret_file)
        return secret_file

    def agent_address(self) -> str:
        ip = self.pods_of("alloy")[0]["status"]["podIP"]
        return f"{ip}:{self.container_port(self.container('alloy'), 'http')}"

    def start_agent(self, client_secret: str | None = None, name: str = "collector") -> str:
        path = self.agent_config(client_secret)[0]
        addr = self.agent_address()
        argv = [prometheus_bin()]
        for a in self.container("alloy")["args"]:
            if a.startswith("--config.file="):
                a = f"--config.file={path}"
            elif a.startswith("--storage.agent.path="):
                a = f"--storage.agent.path={self.workdir / ('agent-data-' + name)}"
            elif a.startswith("--web.listen-address="):
                a = f"--web.listen-address={addr}"
            argv.append(a)
        self.procs.start(name, argv)
        wait_for(lambda: http_get(f"http://{addr}/-/ready")[0] == 200, 60, "collector ready")
        return addr

    def stop_agent(self, sig: int = signal.SIGKILL, name: str = "collector") -> None:
        self.procs.stop(name, sig)

    def start(self) -> None:
        self.install()
        self.start_processes()

    def start_processes(self) -> None:
        """kube-state-metrics, the stand-ins and the collector for the pods of the release."""
        self.start_kube_state_metrics()
        self.start_standins()
        self.start_agent()

    def close(self) -> None:
        self.procs.stop_all()
        with contextlib.suppress(Exception):
            subprocess.run([helm_bin(), "uninstall", self.release, "-n", self.namespace, "--wait=false"],
                           env=self.env, capture_output=True, timeout=120, check=False)

    # ------------------------------------------------------------------ central
    def query(self, promql: str) -> list[dict]:
        return self.central.query(promql)

    def selector(self, extra: str = "") -> str:
        s = f'runner="{self.runner}",organization="{self.organization}"'
        return s + ("," + extra if extra else "")

    def wait_delivered(self, timeout: float) -> None:
        """Until every scrape job of the release has delivered its up series with value 1."""
        want = {"kubiya-runner": len(self.pods_of("agent-manager")) + len(self.pods_of("tool-manager")),
                "kube-state-metrics": 1, "alloy": 1}

        def ready():
            got = {}
            for r in self.query(f'up{{{self.selector()}}} == 1'):
                got[r["metric"]["job"]] = got.get(r["metric"]["job"], 0) + 1
            ksm = self.query(f'count(kube_pod_status_ready{{{self.selector()}}})')
            return got == want and ksm
        wait_for(ready, timeout, f"up == 1 for {want} and kube-state-metrics series delivered", 3)

    def module_args(self, checks: list[dict], **kw) -> dict:
        args = self.central.module_args(runner=self.runner, organization=self.organization,
                                        checks=checks)
        args.update(kw)
        return args


def _connects(host: str, port: int) -> bool:
    assert_loopback(host)
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def run_delivery(args: dict, check_mode: bool = False, timeout: float = 300, env: dict | None = None) -> dict:
    """One real invocation of kubiya.runners.metrics_delivery through ``ansible`` (ad hoc), as
    a dict: rc, status, result, elapsed, stdout, stderr (testlib.run_adhoc; ``env`` added to
    the process environment)."""
    return dataclasses.asdict(run_adhoc("metrics_delivery", args, check_mode=check_mode, timeout=timeout, env=env))
