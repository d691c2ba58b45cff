"""pytest session fixture ``central``: the local central side, running.

Import it into a conftest with ``from central.fixtures import central  # noqa: F401``
(``tests/`` must be on sys.path; tests/conftest.py puts it there by being there).

The fixture runs tests/central/up.sh (idempotent). If it started the central
side it stops it at the end of the session (state is kept in .central/ for
the logs) unless ``KUBIYA_KEEP_CENTRAL=1``; a central side that was already
running (``make central-up``) is left alone.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from central import client, settings
from testlib import start_once, xdist_shared_dir

HERE = os.path.dirname(os.path.abspath(__file__))


class Client(object):
    def __init__(self, data):
        self.client_id = data["client_id"]
        self.client_secret = data["client_secret"]
        self.roles = data.get("roles", [])

    def __repr__(self):  # never print the secret
        return "Client(%s, roles=%s)" % (self.client_id, self.roles)


class Central(object):
    """URLs, generated credentials and helpers of the running central side.

    Attributes: state_dir, prometheus_url (no auth), front_url, remote_write_url,
    authority_url, token_url, issuer, tenant_id, write_scope, query_scope,
    collector (may write), verifier (may query).
    """

    def __init__(self, state_dir):
        self.state_dir = state_dir
        ends = settings.load_json(os.path.join(state_dir, "endpoints.json"))
        creds = settings.load_json(os.path.join(state_dir, "credentials.json"))
        for key, value in ends.items():
            setattr(self, key, value)
        self.collector = Client(creds["clients"]["collector"])
        self.verifier = Client(creds["clients"]["verifier"])
        self._write_token = (None, 0.0)

    # --- processes -------------------------------------------------------
    def script(self, name, *args, check=True):
        env = dict(os.environ, KUBIYA_CENTRAL_DIR=self.state_dir)
        env.setdefault("KUBIYA_CENTRAL_PYTHON", sys.executable)
        proc = subprocess.run([os.path.join(HERE, name)] + list(args), env=env, text=True,
                              capture_output=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError("%s %s failed (%d):\n%s" % (name, " ".join(args),
                                                           proc.returncode, proc.stderr[-3000:]))
        return proc

    def stop(self, component):
        """Stop one component (prometheus, tokend, authfront)."""
        self.script("down.sh", component)

    def start(self, component):
        self.script("up.sh", component)

    # --- clients -----------------------------------------------------------
    def token(self, who="collector", scope=None, ttl=None):
        c = getattr(self, who)
        scope = scope or (self.write_scope if who == "collector" else self.query_scope)
        return client.get_token(self.token_url, c.client_id, c.client_secret, scope, ttl=ttl)

    def push(self, series, token=None):
        """Remote-write ``series`` [(labels incl. __name__, [(ts_ms, value)])] via the front."""
        if token is None:
            tok, exp = self._write_token
            if tok is None or time.time() > exp:
                tok = self.token("collector")
                self._write_token = (tok, time.time() + 120)
            token = tok
        return client.push(self.remote_write_url, series, token)

    def query(self, promql, at=None):
        """Instant query through the front with a verifier token."""
        return client.query(self.front_url, promql, self.token("verifier"), at=at)

    def module_args(self, **overrides):
        """Connection options of kubiya.runners.metrics_delivery for this central side
        (Entra ID flow pointed at the local token endpoint). The central side listens
        on loopback over plain http, so ``allow_http`` is set explicitly."""
        args = {"url": self.front_url, "auth_type": "azure", "authority_url": self.authority_url,
                "tenant_id": self.tenant_id, "client_id": self.verifier.client_id,
                "client_secret": self.verifier.client_secret, "timeout": 5, "allow_http": True}
        args.update(overrides)
        return args

    def describe(self):
        return json.dumps({"front_url": self.front_url, "token_url": self.token_url,
                           "state_dir": self.state_dir})


_SESSION = {"central": None, "started": False, "users": 0}


def _running(state_dir):
    pids = os.path.join(state_dir, "pids")
    return os.path.isdir(pids) and bool(os.listdir(pids))


def _central_up(state_dir):
    """Start the central side (up.sh is idempotent); True if this call started it."""
    was_running = _running(state_dir)
    env = dict(os.environ, KUBIYA_CENTRAL_DIR=state_dir)
    env.setdefault("KUBIYA_CENTRAL_PYTHON", sys.executable)
    up = subprocess.run([os.path.join(HERE, "up.sh")], env=env, text=True,
                        capture_output=True, timeout=120, check=False)
    if up.returncode != 0:
        pytest.fail("tests/central/up.sh failed:\n%s" % up.stderr[-4000:])
    return not was_running


def stop_central():
    """Stop the central side of settings.state_dir() (the xdist controller, at the end)."""
    Central(settings.state_dir()).script("down.sh", check=False)


@pytest.fixture(scope="session")
def central(request):
    state_dir = settings.state_dir()
    shared = xdist_shared_dir(request.config)
    if shared is not None:  # an xdist worker: one worker starts it, the controller stops it
        start_once(shared, "central", lambda: _central_up(state_dir))
        yield Central(state_dir)
        return
    if _SESSION["central"] is None:
        started = _central_up(state_dir)
        _SESSION.update(central=Central(state_dir), started=started)
    _SESSION["users"] += 1
    try:
        yield _SESSION["central"]
    finally:
        _SESSION["users"] -= 1
        if (_SESSION["users"] == 0 and _SESSION["started"]
                and os.environ.get("KUBIYA_KEEP_CENTRAL") != "1"):
            _SESSION["central"].script("down.sh", check=False)
            _SESSION.update(central=None, started=False)
