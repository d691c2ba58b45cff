"""Generate values.schema.json of the kubiya-runner chart and its subcharts.

The four schemas share their building blocks (image, resources, probes, global, ...),
so they are written here once. Every object the charts own has
``additionalProperties: false``; Kubernetes structures passed through verbatim
(affinity, tolerations, selectors) are only type-checked.

    python3 tools/chart-schema.py           # rewrite the schema files
    python3 tools/chart-schema.py --check   # exit 1 when a committed file is stale

tests/unit/chart/test_chart_schema.py runs the --check mode.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "charts" / "kubiya-runner"
DRAFT = "http://json-schema.org/draft-07/schema#"

# ----------------------------------------------------------------- primitives
STRING = {"type": "string"}
BOOL = {"type": "boolean"}
DNS_LABEL = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
SECRET_NAME = {"type": "string", "maxLength": 253,
               "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"}
SECRET_KEY = {"type": "string", "pattern": r"^[-._a-zA-Z0-9]+$"}
# host[:port] of a URL: no user:password@ (a secret in the values), no query without a path.
# These patterns are also the role's input checks (plugins/filter/runner_checks.py schema_patterns).
URL_HOST = r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?"
URL = {"type": "string", "pattern": rf"^https?://{URL_HOST}(/\S*)?$"}
OPTIONAL_URL = {"type": "string", "pattern": rf"^(https?://{URL_HOST}(/\S*)?)?$"}
NATS_URL = {"type": "string", "pattern": rf"^(tls|nats|wss?)://{URL_HOST}(/\S*)?$"}
DURATION = {"type": "string", "pattern": r"^([0-9]+(ns|us|µs|ms|s|m|h))+$"}
INTERVAL = {"type": "string", "pattern": r"^(1[5-9]s|[2-5][0-9]s|60s|1m)$",
            "description": "15s to 60s"}
PROBE_TIMEOUT = {"type": "string", "pattern": r"^([1-9]|10)s$", "description": "1s to 10s"}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
CIDR = {"type": "string",
        "pattern": r"^(([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])|[0-9a-fA-F:]+/[0-9]{1,3})$"}
CRON = {"type": "string", "pattern": r"^(@(hourly|daily|weekly|monthly|yearly)|(\S+\s+){4}\S+)$"}
PATH = {"type": "string", "pattern": r"^/[^\s]*$"}
QUANTITY_CPU = {"type": ["string", "number"], "exclusiveMinimum": 0,
                "pattern": r"^([0-9]+(\.[0-9]{1,3})?|[0-9]+m)$"}
QUANTITY_MEM = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"}
UID = {"type": "integer", "minimum": 10000, "maximum": 2147483647,
       "description": "at least 10000: no clash with the node's own users"}
# A tag that names one build: a version or a commit id. Kept in step with the template
# kubiya.pinnedTagPattern (kubiya-common). Other tags (latest, stable, runner_v2) move and
# are accepted only together with a digest.
PINNED_TAG = r"^(v?[0-9]+(\.[0-9]+){1,3}([-+_.][0-9A-Za-z][0-9A-Za-z_.-]*)?|[0-9a-f]{7,64})$"
OPTIONAL_DNS_LABEL = {"type": "string", "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", "maxLength": 63}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
K8S_OBJECT = {"type": "object"}
K8S_LIST = {"type": "array", "items": {"type": "object"}}
# telemetry.collector: what runs in the alloy Deployment (kubiya-runner.collector fails on others)
COLLECTORS = ("alloy", "prometheus-agent")


def obj(props: dict, required: list[str] | None = None, **extra) -> dict:
    """An object the chart owns: its keys only, all required unless told otherwise."""
    out = {"type": "object", "additionalProperties": False, "properties": props,
           "required": sorted(props) if required is None else required}
    out.update(extra)
    return out


def ref(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


DEFINITIONS = {
    "image": obj({
        "registry": {"type": "string", "pattern": r"^([a-z0-9.-]+(:[0-9]+)?)?$"},
        "repository": {"type": "string", "pattern": r"^[a-z0-9]+([._/-][a-z0-9]+)*$"},
        "tag": {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
                "not": {"const": "latest"}, "description": "pinned tag, never latest"},
        "digest": {"type": "string", "pattern": r"^(sha256:[a-f0-9]{64})?$"},
    }, **{
        # without a digest the tag must name one build (version or commit), not a moving tag
        "if": {"properties": {"digest": {"const": ""}}},
        "then": {"properties": {"tag": {"pattern": PINNED_TAG,
                                        "description": "a version or commit tag (moving tags need image.digest)"}}},
    }),
    "resources": obj({
        "requests": obj({"cpu": QUANTITY_CPU, "memory": QUANTITY_MEM}),
        "limits": obj({"cpu": QUANTITY_CPU, "memory": QUANTITY_MEM}),
    }),
    "httpProbe": obj({
        "enabled": BOOL, "path": PATH,
        "initialDelaySeconds": {"type": "integer", "minimum": 0},
        "periodSeconds": {"type": "integer", "minimum": 1},
        "timeoutSeconds": {"type": "integer", "minimum": 1},
        "failureThreshold": {"type": "integer", "minimum": 1},
    }),
    "podSecurityContext": obj({"runAsUser": UID, "runAsGroup": UID, "fsGroup": UID}),
    "serviceAccount": obj({"annotations": STRING_MAP}),
    "service": obj({"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "port": PORT}),
    "extraEnv": {"type": "array", "items": obj({
        "name": {"type": "string", "pattern": r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"},
        "value": STRING,
        # secrets reach containers as files, never as environment variables
        "valueFrom": {"type": "object", "not": {"required": ["secretKeyRef"]},
                      "description": "no secretKeyRef: mount the Secret as a file instead"},
    }, required=["name"])},
    "egressDestination": obj({
        "cidrs": {"type": "array", "items": CIDR},
        "ports": {"type": "array", "items": PORT, "minItems": 1},
    }),
    "execProbe": obj({
        "enabled": BOOL,
        "command": {"type": "array", "items": STRING, "minItems": 1},
        "initialDelaySeconds": {"type": "integer", "minimum": 0},
        "periodSeconds": {"type": "integer", "minimum": 1},
        "timeoutSeconds": {"type": "integer", "minimum": 1},
        "failureThreshold": {"type": "integer", "minimum": 1},
    }),
}

RUNNER_NAME = {"type": "string", "minLength": 1, "maxLength": 63,
               "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
               "description": "no dots, spaces or NATS wildcards: it is a NATS subject token"}
GLOBAL = obj({
    "runner": obj({
        "name": RUNNER_NAME,
        "organization": RUNNER_NAME,
        "uuid": {"type": "string", "minLength": 1,
                 "pattern": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
    }),
    "imageRegistry": {"type": "string", "pattern": r"^([a-z0-9.-]+(:[0-9]+)?)?$"},
    "imagePullSecrets": {"type": "array", "items": SECRET_NAME},
    "nodeSelector": STRING_MAP,
    "tolerations": K8S_LIST,
    "nats": obj({
        "serverUrl": NATS_URL,
        "existingSecret": SECRET_NAME,
        "operatorCreds": {"type": "string", "pattern": r"^(-----BEGIN NATS USER JWT-----[\s\S]*)?$",
                          "description": "content of a NATS .creds file"},
        "runnerCreds": {"type": "string", "pattern": r"^(-----BEGIN NATS USER JWT-----[\s\S]*)?$",
                        "description": "content of a NATS .creds file"},
    }),
    "registryTls": obj({
        "enabled": BOOL,
        "host": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$"},
        "existingSecret": SECRET_NAME,
        "crt": {"type": "string", "pattern": r"^(-----BEGIN CERTIFICATE-----[\s\S]*)?$"},
        "key": {"type": "string", "pattern": r"^(-----BEGIN ([A-Z]+ )?PRIVATE KEY-----[\s\S]*)?$"},
    }),
    "daggerNamespace": OPTIONAL_DNS_LABEL,
    "podSecurity": obj({"enforce": {"enum": ["", "privileged", "baseline", "restricted"]}}),
    "networkPolicy": obj({
        "enabled": BOOL,
        "egress": obj({
            "enabled": BOOL,
            "mode": {"enum": ["internet", "explicit"]},
            # a blocked /0 would equal the internet rule's own CIDR and except nothing: use mode explicit
            "blockedCidrs": {"type": "array", "items": {**CIDR, "not": {"pattern": "/0$"}}},
            "dns": obj({"namespaceSelector": K8S_OBJECT, "podSelector": K8S_OBJECT,
                        "cidrs": {"type": "array", "items": CIDR}}),
            "apiServer": ref("egressDestination"),
            "nats": ref("egressDestination"),
            "registry": ref("egressDestination"),
            "remoteWrite": ref("egressDestination"),
            "updateSource": ref("egressDestination"),
        }),
    }),
})


def scheduling() -> dict:
    return {"nodeSelector": STRING_MAP, "tolerations": K8S_LIST, "affinity": K8S_OBJECT}


def deployment_component(**own) -> dict:
    """Keys every runner Deployment component has, plus its own."""
    props = {
        "replicaCount": {"type": "integer", "minimum": 0, "maximum": 20},
        "image": ref("image"),
        "resources": ref("resources"),
        "podSecurityContext": ref("podSecurityContext"),
        "readOnlyRootFilesystem": BOOL,
        "serviceAccount": ref("serviceAccount"),
        "podAnnotations": STRING_MAP,
        "extraEnv": ref("extraEnv"),
        **scheduling(),
    }
    props.update(own)
    return props


# Named formats of the umbrella chart that the role also checks its own inputs with
# (runner_namespace, runner_chart_repo_url): definitions.<name> of its values.schema.json.
ROLE_FORMATS = {
    "dnsLabel": dict(DNS_LABEL, description="a namespace name (DNS-1123 label)"),
    "url": dict(URL, description="an http(s) URL: host[:port][/path]"),
}


def document(props: dict, all_of: list | None = None, definitions: dict | None = None) -> dict:
    # values the chart does not own (global from the parent, library values) may be absent
    required = sorted(k for k in props if k not in ("global", "kubiya-common"))
    doc = {"$schema": DRAFT, "title": None, **obj(props, required)}
    doc["definitions"] = dict(DEFINITIONS, **(definitions or {}))
    if all_of:
        doc["allOf"] = all_of
    return doc


# ---------------------------------------------------------------- subcharts
# Subcharts: `global` is owned (and strictly validated) by the umbrella chart; repeating
# the check here would print every global error four times.
SUBCHART_COMMON = {"global": K8S_OBJECT, "kubiya-common": K8S_OBJECT}

AGENT_MANAGER = document({
    **SUBCHART_COMMON,
    **deployment_component(
        environment={"type": "string", "minLength": 1},
        toolManagerUrl=OPTIONAL_URL,
        containerPort=PORT,
        service=ref("service"),
        livenessProbe=ref("httpProbe"),
        readinessProbe=ref("httpProbe"),
    ),
})

TOOL_MANAGER = document({
    **SUBCHART_COMMON,
    **deployment_component(
        command={"type": "array", "items": STRING, "minItems": 1},
        containerPort=PORT,
        toolTimeout=DURATION,
        longRunningToolTimeout=DURATION,
        daggerEngineUrl={"type": "string", "pattern": r"^(tcp://[^\s:/]+:[0-9]+)?$"},
        service=ref("service"),
        livenessProbe=ref("httpProbe"),
        readinessProbe=ref("httpProbe"),
        sdkServer=obj({
            "image": ref("image"), "port": PORT,
            "livenessProbe": ref("httpProbe"), "readinessProbe": ref("httpProbe"),
            "resources": ref("resources"), "readOnlyRootFilesystem": BOOL,
        }),
        rbac=obj({"clusterPersistentVolumes": obj({"enabled": BOOL})}),
        writablePaths={"type": "array", "uniqueItems": True, "items": {
            "type": "string", "pattern": r"^/[^\s]+$", "not": {"enum": ["/", "/tmp"]}}},
    ),
})

KUBIYA_OPERATOR = document({**SUBCHART_COMMON, **deployment_component(
    livenessProbe=ref("execProbe"),
    readinessProbe=ref("execProbe"),
)})

# ------------------------------------------------------------------ umbrella
WHEN_TELEMETRY = {
    "if": {"properties": {"telemetry": {"properties": {"enabled": {"const": True}}}}},
    "then": {"properties": {"telemetry": {"properties": {"remoteWrite": {
        "properties": {"url": {"minLength": 1}}}}}}},
}
WHEN_OAUTH2 = {
    "if": {"properties": {"telemetry": {"properties": {
        "enabled": {"const": True},
        "remoteWrite": {"properties": {"oauth2": {"properties": {"enabled": {"const": True}}}}}}}}},
    "then": {"properties": {"telemetry": {"properties": {"remoteWrite": {"properties": {"oauth2": {
        "properties": {"clientId": {"minLength": 1}, "tokenUrl": {"minLength": 1}}}}}}}}},
}

KUBIYA_RUNNER = document({
    "global": GLOBAL,
    # subcharts validate their own values (their values.schema.json)
    "agentManager": K8S_OBJECT,
    "toolManager": K8S_OBJECT,
    "kubiyaOperator": K8S_OBJECT,
    "kubiya-common": K8S_OBJECT,
    "dagger": obj({
        "image": ref("image"),
        "args": {"type": "array", "items": STRING},
        "config": {"type": "string", "minLength": 1},
        "persistence": obj({
            "enabled": BOOL,
            "storageClassName": {"type": "string", "pattern": r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"},
            "size": QUANTITY_MEM,
            "retainOnUninstall": BOOL,
        }),
        "readinessProbe": obj({
            "enabled": BOOL,
            "command": {"type": "array", "items": STRING, "minItems": 1},
            "initialDelaySeconds": {"type": "integer", "minimum": 0},
            "periodSeconds": {"type": "integer", "minimum": 1},
            "timeoutSeconds": {"type": "integer", "minimum": 1},
            "failureThreshold": {"type": "integer", "minimum": 1},
        }),
        "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
        "priorityClassName": {"type": "string", "pattern": r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"},
        "resources": ref("resources"),
        "serviceAccount": ref("serviceAccount"),
        "podAnnotations": STRING_MAP,
        **scheduling(),
    }),
    "workflowEngine": obj(deployment_component(
        enabled=BOOL,
        containerPort=PORT,
        service=ref("service"),
        livenessProbe=ref("httpProbe"),
        readinessProbe=ref("httpProbe"),
    )),
    "imageUpdater": obj({
        "enabled": BOOL,
        "schedule": CRON,
        "suspend": BOOL,
        "versionsUrl": URL,
        "successfulJobsHistoryLimit": {"type": "integer", "minimum": 0, "maximum": 10},
        "failedJobsHistoryLimit": {"type": "integer", "minimum": 0, "maximum": 10},
        "activeDeadlineSeconds": {"type": "integer", "minimum": 30},
        "image": ref("image"),
        "resources": ref("resources"),
        "podSecurityContext": ref("podSecurityContext"),
        "serviceAccount": ref("serviceAccount"),
        **scheduling(),
    }),
    "telemetry": obj({
        "enabled": BOOL,
        "collector": {"enum": list(COLLECTORS)},
        "scrapeInterval": INTERVAL,
        # at most the shortest interval, so it never exceeds scrapeInterval
        "scrapeTimeout": {"type": "string", "pattern": r"^([1-9]|1[0-5])s$", "description": "1s to 15s"},
        "probeTimeout": PROBE_TIMEOUT,
        "dropLabels": {"type": "array", "items": {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"}},
        "remoteWrite": obj({
            "url": OPTIONAL_URL,
            "insecureSkipVerify": BOOL,
            "oauth2": obj({
                "enabled": BOOL,
                "clientId": STRING,
                "tokenUrl": OPTIONAL_URL,
                "scopes": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^\S+$"}},
                "clientSecret": STRING,
                "existingSecret": SECRET_NAME,
                "existingSecretKey": SECRET_KEY,
            }),
        }),
    }),
    "alloy": obj({
        # deprecated (one release): telemetry.collector; "" = not set
        "collector": {"enum": [""] + list(COLLECTORS),
                      "description": "DEPRECATED: use telemetry.collector"},
        "image": ref("image"),
        "prometheusAgent": obj({"image": ref("image")}),
        "logLevel": {"enum": ["debug", "info", "warn", "error"]},
        "resources": ref("resources"),
        "podSecurityContext": ref("podSecurityContext"),
        "serviceAccount": ref("serviceAccount"),
        "podAnnotations": STRING_MAP,
        **scheduling(),
    }),
    "kubeStateMetrics": obj({
        "image": ref("image"),
        "collectors": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": [
            "pods", "deployments", "statefulsets", "replicasets", "jobs", "cronjobs",
            "services", "persistentvolumeclaims", "configmaps"]}},
        "metricAllowlist": {"type": "array", "minItems": 1,
                            "items": {"type": "string", "pattern": r"^kube_[a-z0-9_]+$"}},
        "podLabelsAllowlist": {"type": "array", "items": {
            "type": "string", "pattern": r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"}},
        "resources": ref("resources"),
        "podSecurityContext": ref("podSecurityContext"),
        "serviceAccount": ref("serviceAccount"),
        **scheduling(),
    }),
    "tests": obj({"image": ref("image")}),
}, all_of=[WHEN_TELEMETRY, WHEN_OAUTH2], definitions=ROLE_FORMATS)

SCHEMAS = {
    ROOT / "values.schema.json": ("kubiya-runner values", KUBIYA_RUNNER),
    ROOT.parent / "agent-manager" / "values.schema.json": ("agent-manager values", AGENT_MANAGER),
    ROOT.parent / "tool-manager" / "values.schema.json": ("tool-manager values", TOOL_MANAGER),
    ROOT.parent / "kubiya-operator" / "values.schema.json": ("kubiya-operator values", KUBIYA_OPERATOR),
}


def render(title: str, schema: dict) -> str:
    schema = dict(schema, title=title)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, (title, schema) in SCHEMAS.items():
        text = render(title, schema)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("stale (run python3 tools/chart-schema.py):\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
