"""Differential property test: the offline RBAC matcher (plugins/module_utils/rbac/) answers like the
local control plane's RBAC authorizer, for random Roles and random requests (hypothesis).

Each example replaces one Role bound to a ServiceAccount, waits until the authorizer has seen the new
rules (a sentinel rule of the example becomes allowed), then asks SubjectAccessReviews and compares
them with rbac.allowed_by over the same objects read back from the API server.
"""
from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.kubiya.runners.plugins.module_utils import rbac
from ansible_collections.kubiya.runners.plugins.module_utils.kube import KubeClient

pytestmark = pytest.mark.cluster

VERBS = ["get", "list", "create", "patch", "delete", "bind", "impersonate"]
GROUPS = ["", "apps", "batch"]
RESOURCES = ["pods", "pods/exec", "pods/log", "deployments", "deployments/scale", "secrets", "jobs",
             "serviceaccounts/token"]
NAMES = ["a", "b"]

role_rules = st.lists(st.fixed_dictionaries({
    "verbs": st.lists(st.sampled_from(VERBS + ["*"]), min_size=1, max_size=2, unique=True),
    "apiGroups": st.lists(st.sampled_from(GROUPS + ["*"]), min_size=1, max_size=2, unique=True),
    "resources": st.lists(st.sampled_from(RESOURCES + ["*", "*/scale", "pods/*"]), min_size=1, max_size=2,
                          unique=True),
}, optional={"resourceNames": st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True)}),
    min_size=1, max_size=3)
request_lists = st.lists(st.tuples(st.sampled_from(VERBS), st.sampled_from(GROUPS), st.sampled_from(RESOURCES),
                                   st.sampled_from(["", *NAMES])), min_size=6, max_size=10, unique=True)


@pytest.fixture
def bound_account(cluster, namespace):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "prop"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "prop"},
         "rules": [{"apiGroups": [""], "resources": ["sentinel-0"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "prop"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "prop"},
         "subjects": [{"kind": "ServiceAccount", "name": "prop"}]},
    ]))
    client = KubeClient.from_params({"kubeconfig": str(cluster.kubeconfig)})
    yield client, namespace
    client.close()


counter = iter(range(1, 1 << 30))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rules=role_rules, requests=request_lists)
def test_offline_matcher_agrees_with_the_api_server_on_random_roles(bound_account, rules, requests):
    client, namespace = bound_account
    sentinel = "sentinel-%d" % next(counter)
    path = "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles/prop" % namespace
    role = client.get(path)
    role["rules"] = rules + [{"apiGroups": [""], "resources": [sentinel], "verbs": ["get"]}]
    client.request("PUT", path, body=role)
    sar = rbac.sar_checker(client, namespace, "prop")
    deadline = time.monotonic() + 20
    while not sar(rbac.make_access("get", "", sentinel, namespace=namespace)):
        assert time.monotonic() < deadline, "the authorizer never saw the new Role"
        time.sleep(0.1)
        sar = rbac.sar_checker(client, namespace, "prop")  # a fresh cache
    index = rbac.RbacIndex(roles=[client.get(path)], role_bindings=[
        client.get("/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings/prop" % namespace)])
    bindings = index.bindings_for(namespace, "prop")
    # one request the first rule certainly allows, so that every example compares an "allowed" answer too
    first = rules[0]
    resource = {"*": "pods", "*/scale": "deployments/scale"}.get(first["resources"][0], first["resources"][0])
    known = (first["verbs"][0].replace("*", "get"), first["apiGroups"][0].replace("*", "apps"), resource,
             (first.get("resourceNames") or [""])[0])
    assert rbac.allowed_by(rbac.make_access(known[0], known[1], known[2], name=known[3], namespace=namespace),
                           bindings)
    disagree = []
    for verb, group, resource, name in [known] + requests:
        for ns in (namespace, "kube-system"):
            access = rbac.make_access(verb, group, resource, name=name, namespace=ns)
            if sar(access) != (rbac.allowed_by(access, bindings) is not None):
                disagree.append(access)
    assert disagree == [], (rules, disagree)
