"""A local, stateful stand-in for the Grafana HTTP API endpoints roles/grafana calls.

Grafana (AGPL) is not run here. This server answers the calls the role makes with Grafana's
status codes and uid/version semantics and VALIDATES every payload:

* dashboards must load into grafana-foundation-sdk's ``Dashboard`` model (Apache-2.0) and
  survive a round trip through it unchanged (an unknown or mistyped field is refused);
* alert rules must load into the SDK's ``alerting.Rule`` model, name an existing folder and
  an existing datasource (or ``__expr__``) in every query, and carry the fields the
  provisioning API requires (title, condition, data, folderUID, ruleGroup, for, noDataState,
  execErrState);
* datasources: name, type and access required, uid unique, type ``prometheus`` only;
  Grafana's datasource JSON schema is not published under a permissive licence, so these
  checks are written from Grafana's HTTP API documentation.

Semantics: 401 without the bearer token; 404 for an unknown uid; POST of an existing uid 409
(name clash too, for datasources); dashboard save with a stale ``dashboard.version`` and no
``overwrite`` 412; every accepted write bumps the object's version. ``GET /_standin/calls``
lists the calls (method, path, status) for the tests.

    python standin.py --listen 127.0.0.1:0 --token <token> --port-file <path>
"""
from __future__ import annotations

import argparse
import http.server
import json
import re
import socketserver
import threading

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as am
from grafana_foundation_sdk.models import dashboard as dm

RULE_REQUIRED = ("title", "condition", "data", "folderUID", "ruleGroup", "for", "noDataState",
                 "execErrState")


class Error(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.folders: dict[str, dict] = {}
        self.datasources: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}      # uid -> {"dashboard", "folderUid", "version"}
        self.rules: dict[str, dict] = {}
        self.calls: list[dict] = []
        self.next_id = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def _roundtrip(model, data: dict, what: str) -> None:
    try:
        obj = model.from_json(data)
    except Exception as exc:  # the models raise KeyError/TypeError/ValueError on bad input
        raise Error(400, "%s does not load into the SDK model: %r" % (what, exc)) from exc
    back = json.loads(json.dumps(obj, cls=JSONEncoder))
    if back != data:
        extra = sorted(set(data) - set(back))
        raise Error(400, "%s: fields not in the SDK model or not round-tripping: %s"
                    % (what, extra or [k for k in data if data.get(k) != back.get(k)]))


def handle(state: State, method: str, path: str, body) -> tuple[int, object]:
    s = state
    if method == "GET" and path == "/api/health":
        return 200, {"database": "ok", "version": "11.6.0"}
    # ---- folders
    if path == "/api/folders" and method == "POST":
        uid, title = body.get("uid"), body.get("title")
        if not uid or not title:
            raise Error(400, "folder: uid and title required")
        if uid in s.folders:
            raise Error(409, "a folder with the same uid already exists")
        s.folders[uid] = {"id": s.new_id(), "uid": uid, "title": title, "version": 1}
        return 200, s.folders[uid]
    m = re.fullmatch(r"/api/folders/([\w-]+)", path)
    if m:
        f = s.folders.get(m.group(1))
        if f is None:
            raise Error(404, "folder not found")
        if method == "GET":
            return 200, f
        if method == "PUT":
            if not body.get("overwrite") and body.get("version") != f["version"]:
                raise Error(412, "the folder has been changed by someone else")
            f.update(title=body["title"], version=f["version"] + 1)
            return 200, f
    # ---- datasources
    if path == "/api/datasources" and method == "POST":
        return 200, _save_datasource(s, body, None)
    m = re.fullmatch(r"/api/datasources/uid/([\w-]+)", path)
    if m:
        ds = s.datasources.get(m.group(1))
        if ds is None:
            raise Error(404, "Data source not found")
        if method == "GET":
            return 200, {k: v for k, v in ds.items() if k != "secureJsonData"}
        if method == "PUT":
            return 200, _save_datasource(s, body, ds)
    # ---- dashboards
    if path == "/api/dashboards/db" and method == "POST":
        return 200, _save_dashboard(s, body)
    m = re.fullmatch(r"/api/dashboards/uid/([\w-]+)", path)
    if m and method == "GET":
        d = s.dashboards.get(m.group(1))
        if d is None:
            raise Error(404, "Dashboard not found")
        return 200, {"dashboard": d["dashboard"], "meta": {"folderUid": d["folderUid"],
                                                           "version": d["dashboard"]["version"]}}
    # ---- alert rules (provisioning API)
    if path == "/api/v1/provisioning/alert-rules" and method == "POST":
        uid = body.get("uid")
        if uid in s.rules:
            raise Error(409, "an alert rule with uid %s already exists" % uid)
        return 201, _save_rule(s, body)
    m = re.fullmatch(r"/api/v1/provisioning/alert-rules/([\w-]+)", path)
    if m:
        r = s.rules.get(m.group(1))
        if r is None:
            raise Error(404, "alert rule not found")
        if method == "GET":
            return 200, r
        if method == "PUT":
            if body.get("uid", m.group(1)) != m.group(1):
                raise Error(400, "uid in the body differs from the path")
            return 200, _save_rule(s, {**body, "uid": m.group(1)})
    raise Error(404, "no such endpoint in the stand-in: %s %s" % (method, path))


def _save_datasource(s: State, body: dict, current: dict | None) -> dict:
    for key in ("name", "type", "access", "url"):
        if not body.get(key):
            raise Error(400, "datasource: %s required" % key)
    if body["type"] != "prometheus":
        raise Error(400, "datasource: only type prometheus is provisioned by the role")
    uid = body.get("uid") or (current or {}).get("uid")
    if current is None:
        if uid in s.datasources or any(d["name"] == body["name"] for d in s.datasources.values()):
            raise Error(409, "data source with the same name or uid already exists")
        ds = {"id": s.new_id(), "version": 0}
    else:
        ds = current
    ds.update(body, uid=uid, version=ds["version"] + 1)
    s.datasources[uid] = ds
    return {"datasource": {k: v for k, v in ds.items() if k != "secureJsonData"}, "id": ds["id"],
            "message": "Datasource saved"}


def _save_dashboard(s: State, body: dict) -> dict:
    dash = dict(body.get("dashboard") or {})
    uid = dash.get("uid")
    if not uid:
        raise Error(400, "dashboard: uid required")
    folder = body.get("folderUid", "")
    if folder and folder not in s.folders:
        raise Error(400, "folder %s not found" % folder)
    current = s.dashboards.get(uid)
    version = dash.pop("version", None)
    dash.pop("id", None)
    _roundtrip(dm.Dashboard, dash, "dashboard %s" % uid)
    if current and not body.get("overwrite") and version != current["dashboard"]["version"]:
        raise Error(412, "version-mismatch: the dashboard has been changed by someone else")
    new_version = current["dashboard"]["version"] + 1 if current else 1
    did = current["dashboard"]["id"] if current else s.new_id()
    s.dashboards[uid] = {"dashboard": {**dash, "id": did, "version": new_version}, "folderUid": folder}
    return {"id": did, "uid": uid, "status": "success", "version": new_version,
            "url": "/d/%s" % uid}


def _save_rule(s: State, body: dict) -> dict:
    missing = [k for k in RULE_REQUIRED if body.get(k) in (None, "", [])]
    if missing:
        raise Error(400, "alert rule: %s required" % ", ".join(missing))
    try:
        am.Rule.from_json(body)
    except Exception as exc:
        raise Error(400, "alert rule does not load into the SDK model: %r" % exc) from exc
    if body["folderUID"] not in s.folders:
        raise Error(400, "alert rule: folder %s not found" % body["folderUID"])
    for q in body["data"]:
        if q.get("datasourceUid") != "__expr__" and q.get("datasourceUid") not in s.datasources:
            raise Error(400, "alert rule: datasource %s not found" % q.get("datasourceUid"))
    if body["condition"] not in {q.get("refId") for q in body["data"]}:
        raise Error(400, "alert rule: condition %s is no query refId" % body["condition"])
    rule = {**body, "id": s.rules.get(body["uid"], {}).get("id") or s.new_id(),
            "orgID": body.get("orgID") or 1, "provenance": "api",
            "updated": "2026-01-01T00:00:00Z"}
    s.rules[body["uid"]] = rule
    return rule


def serve(listen: str, token: str) -> socketserver.TCPServer:
    host, port = listen.rsplit(":", 1)
    if not host.startswith("127."):
        raise SystemExit("grafana stand-in: refusing to bind %s (loopback only)" % host)
    state = State()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _do(self):
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path == "/_standin/calls":
                status, out = 200, state.calls
            elif self.headers.get("Authorization") != "Bearer " + token:
                status, out = 401, {"message": "Unauthorized"}
            else:
                try:
                    body = json.loads(raw) if raw else None
                    with state.lock:
                        status, out = handle(state, self.command, path, body)
                except Error as exc:
                    status, out = exc.status, {"message": exc.message}
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    status, out = 400, {"message": "bad request: %r" % exc}
                state.calls.append({"method": self.command, "path": path, "status": status})
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _do  # noqa: N815

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    return Server((host, int(port)), Handler)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--token", required=True)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    srv = serve(a.listen, a.token)
    with open(a.port_file, "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()


if __name__ == "__main__":
    main()
