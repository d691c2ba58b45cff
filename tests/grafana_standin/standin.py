"""A local, stateful stand-in for the Grafana HTTP API endpoints roles/grafana calls.

Grafana (AGPL) is not run here. This server answers the calls the role makes with Grafana's
status codes and uid/version semantics and VALIDATES every payload:

* dashboards must load into grafana-foundation-sdk's ``Dashboard`` model (Apache-2.0) and
  survive a round trip through it unchanged (an unknown or mistyped field is refused);
* alert rules must load into the SDK's ``alerting.Rule`` model, name an existing folder and
  an existing datasource (or ``__expr__``) in every query, and carry the fields the
  provisioning API requires (title, condition, data, folderUID, ruleGroup, for, noDataState,
  execErrState);
* contact points (``/api/v1/provisioning/contact-points``) must load into the SDK's
  ``alerting.ContactPoint`` model unchanged, name a type of that model's ``type`` literal
  (else 400, as Grafana refuses an unknown type) and carry the settings Grafana requires for
  it; the stand-in models webhook and email (other types 400). Secure settings (webhook
  ``password``, ``authorization_credentials``) are answered as ``[REDACTED]``; a PUT sending
  ``[REDACTED]`` keeps the stored value. uid <= 40 characters of ``[a-zA-Z0-9_-]``;
* the notification policy tree (``/api/v1/provisioning/policies``) is one document, replaced
  by PUT: it must load into the SDK's ``alerting.NotificationPolicy`` model unchanged, have a
  root receiver and no root matchers, name only existing contact points, well-formed
  ``object_matchers`` and durations. A fresh stand-in holds Grafana's default tree and
  contact point (``grafana-default-email``);
* datasources: name, type and access required, uid unique, type ``prometheus`` only;
  Grafana's datasource JSON schema is not published under a permissive licence, so these
  checks are written from Grafana's HTTP API documentation.

Semantics: 401 without the bearer token; 404 for an unknown uid (a contact point's PUT too); POST of an existing uid 409
(name clash too, for datasources); dashboard save with a stale ``dashboard.version`` and no
``overwrite`` 412; every accepted write bumps the object's version. Contact-point and policy
writes answer 202 like Grafana; with ``X-Disable-Provenance`` an object's provenance is "",
without it "api". ``GET /_standin/calls``
lists the calls (method, path, status) for the tests. ``/api/frontend/settings``, the folder
list and ``meta.folderId`` (a dashboard saved with the deprecated ``folderId``) are served for
the community.grafana comparison in roles/grafana/README.md.

    python standin.py --listen 127.0.0.1:0 --token <token> --port-file <path>
"""
from __future__ import annotations

import argparse
import http.server
import json
import re
import socketserver
import threading
import typing

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as am
from grafana_foundation_sdk.models import dashboard as dm

try:                                  # run as a script (the tests, Molecule's prepare)
    import sdk_schema
except ImportError:                   # imported as tests.grafana_standin.standin
    from . import sdk_schema

CONTACT_POINT_TYPES = typing.get_args(typing.get_type_hints(am.ContactPoint)["type_val"])
# settings per type: (required, allowed, secure) -- from Grafana's notifier documentation
CONTACT_POINT_SETTINGS = {
    "webhook": (("url",), ("url", "httpMethod", "username", "password", "authorization_scheme",
                           "authorization_credentials", "maxAlerts", "title", "message"),
                ("password", "authorization_credentials")),
    "email": (("addresses",), ("addresses", "singleEmail", "subject", "message"), ()),
}
REDACTED = "[REDACTED]"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
MATCH_OPS = ("=", "!=", "=~", "!~")
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
        self.contact_points: dict[str, dict] = {"cp-default": {
            "uid": "cp-default", "name": "grafana-default-email", "type": "email",
            "settings": {"addresses": "<example@email.com>"}, "disableResolveMessage": False,
            "provenance": ""}}
        self.policy: dict = {"receiver": "grafana-default-email", "group_by": ["grafana_folder", "alertname"]}
        self.calls: list[dict] = []
        self.next_id = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def _typed(model, data: dict, what: str) -> None:
    """Every value of the type the SDK model's hints say, every required field present."""
    found = sdk_schema.problems(model, data)
    if found:
        raise Error(400, "%s does not match the SDK model's types: %s" % (what, "; ".join(found[:5])))


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


def handle(state: State, method: str, path: str, body, headers=None) -> tuple[int, object]:
    s = state
    provenance = "" if (headers or {}).get("X-Disable-Provenance") else "api"
    if method == "GET" and path == "/api/health":
        return 200, {"database": "ok", "version": "11.6.0"}
    if method == "GET" and path == "/api/frontend/settings":   # community.grafana reads the version here
        return 200, {"buildInfo": {"version": "11.6.0"}}
    # ---- folders
    if path == "/api/folders" and method == "GET":
        return 200, [{"id": f["id"], "uid": f["uid"], "title": f["title"]} for f in s.folders.values()]
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
        folder_id = s.folders[d["folderUid"]]["id"] if d["folderUid"] in s.folders else 0
        return 200, {"dashboard": d["dashboard"], "meta": {"folderUid": d["folderUid"], "folderId": folder_id,
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
    # ---- contact points (provisioning API)
    if path == "/api/v1/provisioning/contact-points":
        if method == "GET":
            return 200, [_redact(c) for c in s.contact_points.values()]
        if method == "POST":
            uid = (body or {}).get("uid") or "cp-%d" % s.new_id()
            if uid in s.contact_points:
                raise Error(409, "contact point with uid %s already exists" % uid)
            cp = _check_contact_point({**body, "uid": uid}, None)
            s.contact_points[uid] = {**cp, "provenance": provenance}
            return 202, _redact(s.contact_points[uid])
    m = re.fullmatch(r"/api/v1/provisioning/contact-points/([^/]+)", path)
    if m and method == "PUT":
        current = s.contact_points.get(m.group(1))
        if current is None:
            raise Error(404, "contact point not found")
        if body.get("uid", m.group(1)) != m.group(1):
            raise Error(400, "uid in the body differs from the path")
        cp = _check_contact_point({**body, "uid": m.group(1)}, current)
        s.contact_points[m.group(1)] = {**cp, "provenance": provenance}
        return 202, {"message": "contactpoint updated"}
    # ---- notification policy tree (one document)
    if path == "/api/v1/provisioning/policies":
        if method == "GET":
            return 200, s.policy
        if method == "PUT":
            _check_policy(s, body)
            s.policy = {**body, "provenance": provenance}
            return 202, {"message": "policies updated"}
    raise Error(404, "no such endpoint in the stand-in: %s %s" % (method, path))


def _redact(cp: dict) -> dict:
    secure = CONTACT_POINT_SETTINGS.get(cp["type"], ((), (), ()))[2]
    return {**cp, "settings": {k: REDACTED if k in secure and v else v for k, v in cp["settings"].items()}}


def _check_contact_point(body: dict, current: dict | None) -> dict:
    """Validated contact point to store (secrets sent as [REDACTED] keep the stored value)."""
    body = {k: v for k, v in body.items() if k != "provenance"}
    _roundtrip(am.ContactPoint, body, "contact point")
    _typed(am.ContactPoint, body, "contact point")
    uid, kind, settings = body["uid"], body.get("type"), body.get("settings")
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", uid):
        raise Error(400, "contact point: uid %r is not 1-40 characters of [a-zA-Z0-9_-]" % uid)
    if not body.get("name"):
        raise Error(400, "contact point: name required")
    if kind not in CONTACT_POINT_TYPES:
        raise Error(400, "contact point: unknown type %r (known: %s)" % (kind, ", ".join(CONTACT_POINT_TYPES)))
    if kind not in CONTACT_POINT_SETTINGS:
        raise Error(400, "contact point: type %s is not modelled by the stand-in" % kind)
    if not isinstance(settings, dict):
        raise Error(400, "contact point: settings must be an object")
    required, allowed, secure = CONTACT_POINT_SETTINGS[kind]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise Error(400, "contact point %s: settings unknown for type %s: %s" % (uid, kind, ", ".join(unknown)))
    settings = dict(settings)
    for key in secure:
        if settings.get(key) == REDACTED:
            if current is None or not current["settings"].get(key):
                raise Error(400, "contact point %s: %s sent as %s but none is stored" % (uid, key, REDACTED))
            settings[key] = current["settings"][key]
    missing = [k for k in required if not settings.get(k)]
    if missing:
        raise Error(400, "contact point %s: could not find %s property in settings" % (uid, ", ".join(missing)))
    if kind == "webhook":
        if not re.match(r"^https?://[^/\s]+", settings["url"]):
            raise Error(400, "contact point %s: url is not an http(s) URL" % uid)
        if settings.get("httpMethod", "POST") not in ("POST", "PUT"):
            raise Error(400, "contact point %s: httpMethod must be POST or PUT" % uid)
        if settings.get("password") and settings.get("authorization_credentials"):
            raise Error(400, "contact point %s: both HTTP Basic Authentication and Authorization Header are set, "
                             "only 1 is permitted" % uid)
    if kind == "email" and not [a for a in re.split(r"[;,\n]", str(settings["addresses"])) if a.strip()]:
        raise Error(400, "contact point %s: could not find addresses in settings" % uid)
    return {**body, "settings": settings, "disableResolveMessage": bool(body.get("disableResolveMessage"))}


def _check_policy(s: State, tree: dict) -> None:
    tree = {k: v for k, v in (tree or {}).items() if k != "provenance"}
    _roundtrip(am.NotificationPolicy, tree, "notification policy")
    _typed(am.NotificationPolicy, tree, "notification policy")
    if not tree.get("receiver"):
        raise Error(400, "notification policy: the root route needs a receiver")
    if tree.get("object_matchers") or tree.get("matchers") or tree.get("match") or tree.get("match_re"):
        raise Error(400, "notification policy: the root route must not have matchers")
    names = {c["name"] for c in s.contact_points.values()}

    def walk(route, where):
        if route.get("receiver") and route["receiver"] not in names:
            raise Error(400, "notification policy: receiver %r at %s does not exist" % (route["receiver"], where))
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in route and not DURATION.match(str(route[key])):
                raise Error(400, "notification policy: %s %r at %s is no duration" % (key, route[key], where))
        for matcher in route.get("object_matchers") or []:
            if not (isinstance(matcher, list) and len(matcher) == 3 and matcher[1] in MATCH_OPS
                    and all(isinstance(x, str) for x in matcher) and matcher[0]):
                raise Error(400, "notification policy: bad object matcher %r at %s" % (matcher, where))
        for i, child in enumerate(route.get("routes") or []):
            walk(child, "%s.routes[%d]" % (where, i))

    walk(tree, "root")


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
    if not folder and body.get("folderId"):        # deprecated numeric id (Grafana 11 still takes it)
        folder = next((f["uid"] for f in s.folders.values() if f["id"] == body["folderId"]), None)
        if folder is None:
            raise Error(400, "folder id %s not found" % body["folderId"])
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
    _typed(am.Rule, body, "alert rule")
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
                        status, out = handle(state, self.command, path, body, self.headers)
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
