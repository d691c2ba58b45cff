"""up.sh / down.sh on their own ports and state dir: idempotent, loopback only,
credentials private, component restart, purge."""
import os
import stat
import subprocess
import sys

import pytest

from central import settings

pytestmark = [pytest.mark.central, pytest.mark.slow]
HERE = os.path.dirname(os.path.abspath(__file__))
PORTS = {"KUBIYA_CENTRAL_PROMETHEUS_PORT": "39190", "KUBIYA_CENTRAL_TOKEN_PORT": "39191",
         "KUBIYA_CENTRAL_FRONT_PORT": "39192"}


def listening(port):
    """Local addresses listening on TCP ``port`` (from /proc/net/tcp{,6})."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as handle:
            next(handle)
            for line in handle:
                local, state = line.split()[1], line.split()[3]
                addr, hexport = local.split(":")
                if state == "0A" and int(hexport, 16) == port:
                    found.append(addr)
    return found


@pytest.fixture
def scratch(tmp_path):
    env = dict(os.environ, KUBIYA_CENTRAL_DIR=str(tmp_path / "central"),
               KUBIYA_CENTRAL_PYTHON=sys.executable, **PORTS)

    def run(script, *args):
        return subprocess.run([os.path.join(HERE, script)] + list(args), env=env, text=True,
                              capture_output=True, timeout=120, check=False)
    yield run, tmp_path / "central"
    run("down.sh", "--purge")


def pids(state):
    return {p.name: p.read_text().strip() for p in (state / "pids").iterdir()}


def test_lifecycle(scratch):
    run, state = scratch
    first = run("up.sh")
    assert first.returncode == 0, first.stderr
    before = pids(state)
    assert sorted(before) == ["authfront", "prometheus", "tokend"]
    for port in PORTS.values():
        assert listening(int(port)) == ["0100007F"], port  # 127.0.0.1 only

    mode = stat.S_IMODE(os.stat(state / "credentials.json").st_mode)
    assert mode == 0o600
    creds = settings.load_json(str(state / "credentials.json"))
    assert len(creds["clients"]["collector"]["client_secret"]) >= 32

    again = run("up.sh")
    assert again.returncode == 0, again.stderr
    assert pids(state) == before  # idempotent: nothing restarted

    assert run("down.sh", "tokend").returncode == 0
    assert sorted(pids(state)) == ["authfront", "prometheus"]
    assert listening(39191) == []
    assert run("up.sh", "tokend").returncode == 0
    assert pids(state)["prometheus"] == before["prometheus"]
    assert pids(state)["tokend"] != before["tokend"]
    # a restarted token endpoint keeps the same clients
    assert settings.load_json(str(state / "credentials.json")) == creds

    down = run("down.sh")
    assert down.returncode == 0, down.stderr
    assert list((state / "pids").iterdir()) == []
    assert all(listening(int(p)) == [] for p in PORTS.values())
    assert run("down.sh").returncode == 0  # idempotent
    assert run("down.sh", "--purge").returncode == 0
    assert not state.exists()


def test_dead_component_is_restarted(scratch):
    run, state = scratch
    assert run("up.sh").returncode == 0
    pid = int(pids(state)["authfront"])
    os.kill(pid, 9)
    result = run("up.sh")
    assert result.returncode == 0, result.stderr
    assert "was not running" in result.stderr
    assert int(pids(state)["authfront"]) != pid
