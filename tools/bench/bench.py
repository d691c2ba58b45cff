"""make bench: what our deploy+verify costs next to bare Helm, on the local control plane.

Runs side by side, in one run, against the cluster of KUBECONFIG (default: .cluster/kubeconfig):

  helm           bare ``helm upgrade --install --wait`` with the override file our role renders
                 for the customer (``--tags validate -e runner_values_dir=...``), fresh namespace
  deploy         ``kubiya.runners.deploy`` of a fresh customer, verification included,
                 health window at its default (runner_health_window, 10 s)
  deploy-w0      the same with ``runner_health_window=0``
  rerun          the idempotent re-run of ``deploy`` (verification included); changed=0 asserted
  verify         ``kubiya.runners.verify`` alone, window at its default, and at 0 (verify-w0)
  remove         ``kubiya.runners.remove`` of the customer deployed by ``deploy``

Each figure is the median of --runs (>= 3) runs, with min and max. The customer is the example
inventory's ``acme`` (inventories/example, vault password of the example) in namespaces
``<prefix>-<what>-<run>-<random>``, all deleted at the end. ``--fleet 1,5,20`` adds one deploy
run over N customers (copies of acme, one namespace each; ``--forks``, default N) with its
peak memory (RSS of the whole process tree, sampled). ``--profile`` adds the per-task
breakdown of one deploy+verify (ansible.posix.profile_tasks).

Only the Python standard library; tools from .tools/bin and .venv/bin.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "example"
CHART = REPO / "charts" / "kubiya-runner"
RELEASE = "kubiya-runner"
CUSTOMER = "acme"
RECAP = re.compile(r"^(\S+)\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def env_for(kubeconfig: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(REPO / ".tools" / "bin"), str(REPO / ".venv" / "bin"), env.get("PATH", "")])
    env.update(KUBECONFIG=kubeconfig, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               KUBIYA_VAULT_PASSWORD="kubiya-example-vault",
               ANSIBLE_VAULT_PASSWORD_FILE=str(INVENTORY / "vault-pass-client.sh"),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env.setdefault("ANSIBLE_HOME", str(REPO / ".build" / "ansible-home"))
    env.setdefault("ANSIBLE_LOCAL_TEMP", str(REPO / ".build" / "ansible-tmp"))
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    env.update(extra)
    return env


class Bench:
    def __init__(self, args):
        self.args = args
        self.kubeconfig = args.kubeconfig
        self.env = env_for(self.kubeconfig)
        self.namespaces: list[str] = []
        self.work = Path(tempfile.mkdtemp(prefix="kubiya-bench-"))
        self.results: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        self.last_cpu = 0.0

    # --- helpers -------------------------------------------------------------------------
    def ns(self, what: str, i: int) -> str:
        name = f"{self.args.prefix}-{what}-{i}-{uuid.uuid4().hex[:5]}"
        self.namespaces.append(name)
        return name

    def run(self, cmd: list[str], env: dict | None = None, timeout: float = 1200) -> tuple[float, subprocess.CompletedProcess]:
        start, cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(cmd, cwd=REPO, env=env or self.env, text=True, capture_output=True,
                             timeout=timeout, check=False)
        elapsed = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds of the command and everything it waited for (helm, ansible's workers, modules):
        # unlike wall time, hardly inflated by other load on a shared machine
        self.last_cpu = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
        if out.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed ({out.returncode}):\n{(out.stdout + out.stderr)[-4000:]}")
        return elapsed, out

    def playbook(self, name: str, namespace: str, *args: str, **extra) -> tuple[float, subprocess.CompletedProcess]:
        extra = {"runner_namespace": namespace, **extra}
        return self.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), f"kubiya.runners.{name}",
                         "--limit", CUSTOMER, "-e", json.dumps(extra), *args])

    def record(self, what: str, seconds: float) -> None:
        self.results.setdefault(what, []).append(seconds)
        self.cpu.setdefault(what, []).append(self.last_cpu)
        print(f"  {what:<10} {seconds:7.1f} s  (cpu {self.last_cpu:.1f} s)", flush=True)

    # --- figures -------------------------------------------------------------------------
    def override_file(self) -> Path:
        """The override file our role renders for the customer (offline validate step)."""
        values_dir = self.work / "values"
        self.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.deploy",
                  "--limit", CUSTOMER, "--tags", "validate", "-e", f"runner_values_dir={values_dir}"])
        return values_dir / f"override_{CUSTOMER}.yaml"

    def one_round(self, i: int, override: Path) -> None:
        ns = self.ns("helm", i)
        seconds, _out = self.run(["helm", "upgrade", "--install", RELEASE, str(CHART), "-n", ns, "--create-namespace",
                                  "-f", str(override), "--wait", "--timeout", "5m"])
        self.record("helm", seconds)
        self.run(["helm", "uninstall", RELEASE, "-n", ns, "--wait", "--timeout", "2m"])

        ns = self.ns("deploy", i)
        seconds, _out = self.playbook("deploy", ns)
        self.record("deploy", seconds)
        seconds, out = self.playbook("deploy", ns)
        changed = {h: int(c) for h, _ok, c, _u, _f in RECAP.findall(out.stdout)}
        if changed.get(CUSTOMER) != 0:
            sys.exit(f"bench: the re-run was not idempotent (changed={changed}):\n{out.stdout[-4000:]}")
        self.record("rerun", seconds)
        seconds, _out = self.playbook("verify", ns)
        self.record("verify", seconds)
        seconds, _out = self.playbook("verify", ns, runner_health_window=0)
        self.record("verify-w0", seconds)
        seconds, _out = self.playbook("remove", ns, runner_remove_confirm=CUSTOMER)
        self.record("remove", seconds)

        ns = self.ns("w0", i)
        seconds, _out = self.playbook("deploy", ns, runner_health_window=0)
        self.record("deploy-w0", seconds)
        self.playbook("remove", ns, runner_remove_confirm=CUSTOMER)

    def verify_rounds(self, runs: int, profile: bool) -> None:
        """--only verify: one customer deployed once (not timed), then verify at the default
        window and at 0, alternately, ``runs`` times: what the health window adds."""
        ns = self.ns("verify", 0)
        self.playbook("deploy", ns, runner_verify=False)
        try:
            for i in range(1, runs + 1):
                print(f"run {i}/{runs}", flush=True)
                seconds, _out = self.playbook("verify", ns)
                self.record("verify", seconds)
                seconds, _out = self.playbook("verify", ns, runner_health_window=0)
                self.record("verify-w0", seconds)
            if profile:
                env = env_for(self.kubeconfig, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                              PROFILE_TASKS_TASK_OUTPUT_LIMIT="all", PROFILE_TASKS_SORT_ORDER="none")
                _seconds, out = self.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.verify",
                                          "--limit", CUSTOMER, "-e", json.dumps({"runner_namespace": ns})], env=env)
                print("\nprofile of one verify (profile_tasks, in task order):")
                print("\n".join(line for line in out.stdout.splitlines() if re.search(r" -+ \d+\.\d+s$", line)))
        finally:
            self.playbook("remove", ns, runner_remove_confirm=CUSTOMER)

    def profile(self) -> list[tuple[float, str]]:
        """Per-task times of one deploy+verify of a fresh customer (profile_tasks)."""
        ns = self.ns("profile", 0)
        env = env_for(self.kubeconfig, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                      PROFILE_TASKS_TASK_OUTPUT_LIMIT="all", PROFILE_TASKS_SORT_ORDER="descending")
        _seconds, out = self.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.deploy",
                                  "--limit", CUSTOMER, "-e", json.dumps({"runner_namespace": ns})], env=env)
        self.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.remove",
                  "--limit", CUSTOMER, "-e", json.dumps({"runner_namespace": ns, "runner_remove_confirm": CUSTOMER})])
        rows = []
        for line in out.stdout.splitlines():
            m = re.match(r"^(.*?) -+ (\d+\.\d+)s$", line.strip())
            if m:
                rows.append((float(m.group(2)), m.group(1).strip()))
        return rows

    def fleet(self, n: int) -> tuple[float, float, subprocess.CompletedProcess]:
        """One deploy run over n customers (copies of acme, one namespace each)."""
        inv = self.work / f"fleet-{n}"
        acme = (INVENTORY / "host_vars" / CUSTOMER / "main.yml").read_text()
        hosts = {}
        for k in range(1, n + 1):
            host = f"{self.args.prefix}-c{k}"
            ns = self.ns(f"fleet{n}", k)
            hv = inv / "host_vars" / host
            hv.mkdir(parents=True)
            (hv / "main.yml").write_text(re.sub(r"^runner_namespace: .*$", f"runner_namespace: {ns}", acme, flags=re.M))
            shutil.copy(INVENTORY / "host_vars" / CUSTOMER / "vault", hv / "vault")
            hosts[host] = {}
        for extra in ("group_vars", "vault-pass-client.sh"):
            if (INVENTORY / extra).exists():
                os.symlink(INVENTORY / extra, inv / extra)
        (inv / "hosts.yml").write_text(json.dumps({"kubiya_runners": {"hosts": hosts}}))
        forks = self.args.forks or n
        cmd = ["ansible-playbook", "-i", str(inv / "hosts.yml"), "kubiya.runners.deploy", "--forks", str(forks)]
        peak = [0]
        start = time.monotonic()
        summary = inv / "summary.json"   # the runner_summary callback's per-customer JSON
        proc = subprocess.Popen(cmd, cwd=REPO, env={**self.env, "KUBIYA_RUNNER_SUMMARY": str(summary)},
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sampler = threading.Thread(target=sample_rss, args=(proc.pid, peak, proc), daemon=True)
        sampler.start()
        stdout, _err = proc.communicate(timeout=3600)
        elapsed = time.monotonic() - start
        sampler.join(timeout=5)
        if proc.returncode != 0:
            print(stdout[-4000:])
            print_failures(summary)
        for host in hosts:
            ns = next(n_ for n_ in self.namespaces if n_.startswith(f"{self.args.prefix}-fleet{n}-{host.rsplit('c', 1)[1]}-"))
            subprocess.run(["helm", "uninstall", RELEASE, "-n", ns, "--timeout", "2m"], env=self.env,
                           capture_output=True, check=False)
        return elapsed, peak[0] / 1024 / 1024, subprocess.CompletedProcess(cmd, proc.returncode, stdout, "")

    def cleanup(self) -> None:
        for ns in self.namespaces:
            subprocess.run(["kubectl", "delete", "namespace", ns, f"{ns}-dagger", "--wait=false", "--ignore-not-found"],
                           env=self.env, capture_output=True, check=False)
        shutil.rmtree(self.work, ignore_errors=True)


def print_failures(summary: Path) -> None:
    """Each failed customer's whole message from the summary JSON (the table cuts it to a line)."""
    try:
        doc = json.loads(summary.read_text())
    except (OSError, ValueError) as exc:
        print(f"bench: no run summary at {summary}: {exc}")
        return
    hosts = doc.get("hosts", doc) if isinstance(doc, dict) else {}
    for host, entry in sorted(hosts.items()):
        if isinstance(entry, dict) and entry.get("result") == "failed":
            print(f"--- {host} failed in {entry.get('failed_task')}:\n{entry.get('message')}")


def sample_rss(pid: int, peak: list[int], proc: subprocess.Popen) -> None:
    """Peak of the summed RSS (bytes) of pid and its descendants, sampled every 0.25 s."""
    while proc.poll() is None:
        total = 0
        tree = {pid}
        try:
            stats = {}
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        stat = Path(f"/proc/{d}/stat").read_text()
                        stats[int(d)] = (int(stat.rsplit(") ", 1)[1].split()[1]), int(stat.rsplit(") ", 1)[1].split()[21]))
                    except (OSError, IndexError, ValueError):
                        pass
            grew = True
            while grew:
                grew = False
                for p, (ppid, _rss) in stats.items():
                    if ppid in tree and p not in tree:
                        tree.add(p)
                        grew = True
            total = sum(stats[p][1] for p in tree if p in stats) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
        peak[0] = max(peak[0], total)
        time.sleep(0.25)


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, env=env_for(""), check=False).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return [f"{os.cpu_count()} CPUs ({cpu}), {mem / 1024 / 1024:.1f} GiB RAM, {platform.system()} {platform.release()}",
            f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            f"python {platform.python_version()}; {version(['ansible', '--version'])}; helm {version(['helm', 'version', '--short'])}"]


def table(results: dict[str, list[float]], cpu: dict[str, list[float]]) -> str:
    order = ["helm", "deploy-w0", "deploy", "rerun", "verify-w0", "verify", "remove"]
    what = {"helm": "bare `helm upgrade --install --wait`, same override file",
            "deploy-w0": "deploy+verify, fresh customer, health window 0",
            "deploy": "deploy+verify, fresh customer, health window default (10 s)",
            "rerun": "idempotent re-run (changed=0), verification included",
            "verify-w0": "verify only, health window 0",
            "verify": "verify only, health window default (10 s)",
            "remove": "remove (uninstall, namespace, secrets)"}
    helm = statistics.median(results["helm"]) if results.get("helm") else None
    lines = ["| figure | median s | min s | max s | vs helm | median CPU s |", "|---|---|---|---|---|---|"]
    for key in order + [k for k in results if k not in order]:
        if key not in results:
            continue
        vals = results[key]
        med = statistics.median(vals)
        ratio = f"{med / helm:.1f}x" if helm else ""
        lines.append(f"| {what.get(key, key)} | {med:.1f} | {min(vals):.1f} | {max(vals):.1f} | {ratio} "
                     f"| {statistics.median(cpu.get(key) or [0]):.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prefix", default="bench", help="namespace prefix (default bench)")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG") or str(REPO / ".cluster" / "kubeconfig"))
    parser.add_argument("--fleet", default="", help="comma-separated fleet sizes, e.g. 1,5,20 (default: none)")
    parser.add_argument("--forks", type=int, default=0, help="ansible forks of the fleet runs (default: N)")
    parser.add_argument("--profile", action="store_true", help="add the per-task breakdown of one deploy+verify")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--only", choices=["all", "verify", "fleet"], default="all",
                        help="verify: only verify at the default window and at 0 on one deployed customer; "
                             "fleet: only the --fleet runs")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs: at least 1")
    if args.only == "fleet" and not args.fleet:
        parser.error("--only fleet needs --fleet, e.g. --fleet 1,5,20")
    bench = Bench(args)
    info = machine()
    print("\n".join(info), flush=True)
    report: dict = {"machine": info}
    # SIGTERM (a CI timeout, `timeout`) cleans up like Ctrl-C: the namespaces are deleted
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit("bench: terminated"))
    try:
        if args.only == "verify":
            bench.verify_rounds(args.runs, args.profile)
            args.profile = False
        elif args.only == "all":
            override = bench.override_file()
            for i in range(1, args.runs + 1):
                print(f"run {i}/{args.runs}", flush=True)
                bench.one_round(i, override)
        report["figures"] = bench.results
        report["cpu"] = bench.cpu
        if bench.results:
            print("\n" + table(bench.results, bench.cpu))
        if args.fleet:
            rows = ["| customers | forks | wall s | peak RSS MiB | rc |", "|---|---|---|---|---|"]
            report["fleet"] = []
            for n in (int(x) for x in args.fleet.split(",")):
                seconds, peak, out = bench.fleet(n)
                rows.append(f"| {n} | {args.forks or n} | {seconds:.1f} | {peak:.0f} | {out.returncode} |")
                report["fleet"].append({"customers": n, "forks": args.forks or n, "seconds": seconds,
                                        "peak_rss_mib": peak, "rc": out.returncode})
                print(rows[-1], flush=True)
            print("\n" + "\n".join(rows))
        if args.profile:
            rows = bench.profile()
            report["profile"] = rows
            print(f"\nprofile of one deploy+verify (profile_tasks, {sum(row[0] for row in rows):.1f} s in tasks):")
            for seconds, task in sorted(rows, reverse=True)[:30]:
                print(f"  {seconds:6.2f} s  {task}")
        print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        bench.cleanup()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
