"""Client helpers for the local central side: get a token, push samples, query.

Also a CLI used by demos and fault tests (stopping it is "collector stopped"):

  python -m central.client push --metric kubiya_demo_up --label runner=r1 \
      --every 5 --count 12      # credentials from <state>/credentials.json
"""
import argparse
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from central import remote_write, settings


class HTTPFailure(Exception):
    def __init__(self, status, body):
        super().__init__("HTTP %s: %s" % (status, body[:500]))
        self.status, self.body = status, body


def _open(req, timeout):
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raise HTTPFailure(exc.code, exc.read().decode("utf-8", "replace"))


def get_token(token_url, client_id, client_secret, scope, ttl=None, timeout=10):
    form = {"grant_type": "client_credentials", "client_id": client_id,
            "client_secret": client_secret, "scope": scope}
    if ttl:
        form["ttl"] = str(ttl)
    req = urllib.request.Request(token_url, data=urllib.parse.urlencode(form).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(_open(req, timeout)[1])["access_token"]


def push(write_url, series, token=None, timeout=10):
    """Remote-write ``series`` (see remote_write.encode_write_request). Returns HTTP status."""
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
               "X-Prometheus-Remote-Write-Version": "0.1.0",
               "User-Agent": "kubiya-central-test-pusher/1"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(write_url, data=remote_write.payload(series), headers=headers,
                                 method="POST")
    return _open(req, timeout)[0]


def query(base_url, promql, token=None, at=None, timeout=10):
    params = {"query": promql}
    if at is not None:
        params["time"] = "%.3f" % at
    headers = {"Authorization": "Bearer " + token} if token else {}
    req = urllib.request.Request(base_url.rstrip("/") + "/api/v1/query?"
                                 + urllib.parse.urlencode(params), headers=headers)
    return json.loads(_open(req, timeout)[1])["data"]["result"]


def now_ms():
    return int(time.time() * 1000)


def main(argv=None):
    parser = argparse.ArgumentParser(description="push samples to the local central side")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("push")
    p.add_argument("--metric", required=True)
    p.add_argument("--label", action="append", default=[], help="name=value (repeatable)")
    p.add_argument("--value", type=float, default=1.0)
    p.add_argument("--every", type=float, default=5.0, help="seconds between pushes")
    p.add_argument("--count", type=int, default=1, help="number of pushes (bounded)")
    p.add_argument("--state", default=settings.state_dir())
    args = parser.parse_args(argv)
    creds = settings.load_json(os.path.join(args.state, "credentials.json"))
    ends = settings.load_json(os.path.join(args.state, "endpoints.json"))
    collector = creds["clients"]["collector"]
    labels = dict(item.split("=", 1) for item in args.label)
    labels["__name__"] = args.metric
    token, token_exp = None, 0.0
    for i in range(args.count):
        if time.time() > token_exp:
            token = get_token(ends["token_url"], collector["client_id"],
                              collector["client_secret"], ends["write_scope"])
            token_exp = time.time() + 60
        push(ends["remote_write_url"], [(labels, [(now_ms(), args.value)])], token)
        if i + 1 < args.count:
            time.sleep(args.every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
