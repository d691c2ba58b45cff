"""Property-based tests (hypothesis) of the RBAC rule matcher in plugins/module_utils/rbac/.

The offline mode of sa_permissions stands or falls with this matcher: it decides what rendered
RBAC allows, what counts as excess and which escalation paths a binding opens. The properties
below are the algebra of Kubernetes RBAC (k8s.io/kubernetes pkg/apis/rbac/v1/evaluation_helpers.go,
plugin/pkg/auth/authorizer/rbac/rbac.go): wildcards cover everything, a rule set allows exactly
what one of its rules allows, resourceNames only narrow, and the excess check is sound (nothing it
passes allows more than the matrix). tests/integration/sa_permissions/ checks the same matcher
against the real API server.
"""
from __future__ import annotations

import itertools

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.kubiya.runners.plugins.module_utils import rbac

NS = "ns1"
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "bind", "escalate",
         "impersonate"]
GROUPS = ["", "apps", "batch", "rbac.authorization.k8s.io"]
RESOURCES = ["pods", "pods/exec", "pods/log", "deployments", "deployments/scale", "secrets", "jobs", "roles",
             "serviceaccounts/token", "statefulsets/scale"]
NAMES = ["a", "b", "c"]
URLS = ["/metrics", "/healthz", "/healthz/etcd", "/api", "/api/v1", "/version"]

settings.register_profile("rbac", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rbac")

# values a rule may hold: the concrete ones plus RBAC's wildcards (and the look-alikes that are NOT
# wildcards: "pods/*" is a literal resource name in RBAC)
verb_values = st.sampled_from(VERBS + ["*"])
group_values = st.sampled_from(GROUPS + ["*"])
resource_values = st.sampled_from(RESOURCES + ["*", "*/scale", "*/exec", "pods/*"])
name_lists = st.one_of(st.just([]), st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))


@st.composite
def resource_rules(draw):
    return rbac._cluster_rule({
        "verbs": draw(st.lists(verb_values, min_size=1, max_size=3, unique=True)),
        "apiGroups": draw(st.lists(group_values, min_size=1, max_size=2, unique=True)),
        "resources": draw(st.lists(resource_values, min_size=1, max_size=3, unique=True)),
        "resourceNames": draw(name_lists),
    })


@st.composite
def url_rules(draw):
    return rbac._cluster_rule({
        "verbs": draw(st.lists(verb_values, min_size=1, max_size=2, unique=True)),
        "nonResourceURLs": draw(st.lists(st.sampled_from(URLS + ["*", "/healthz/*", "/api*"]), min_size=1,
                                         max_size=2, unique=True)),
    })


rules = st.one_of(resource_rules(), resource_rules(), url_rules())
rule_lists = st.lists(rules, min_size=0, max_size=4)
# a concrete request: what an API client asks (a group/resource outside the lists now and then)
odd = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)


@st.composite
def resource_requests(draw, namespace=NS):
    resource = draw(st.one_of(st.sampled_from(RESOURCES), odd))
    return rbac.make_access(draw(st.one_of(st.sampled_from(VERBS), odd)),
                            draw(st.one_of(st.sampled_from(GROUPS), odd)), resource,
                            name=draw(st.sampled_from(["", *NAMES])), namespace=namespace)


@st.composite
def url_requests(draw):
    return rbac.make_access(draw(st.sampled_from(VERBS)), path=draw(st.one_of(st.sampled_from(URLS), odd.map(
        lambda s: "/" + s))))


requests = st.one_of(resource_requests(), resource_requests(), url_requests())


def reference_allows(rule, access):
    """An independent transcription of RBAC's RuleAllows (evaluation_helpers.go), for differential testing."""
    verbs, groups, resources = rule["verbs"], rule["apiGroups"], rule["resources"]
    if not ("*" in verbs or access.verb in verbs):
        return False
    if access.path and not access.resource:
        for url in rule["nonResourceURLs"]:
            if url == "*" or url == access.path or (url.endswith("*") and access.path.startswith(url.rstrip("*"))):
                return True
        return False
    if not ("*" in groups or access.group in groups):
        return False
    combined = access.resource + ("/" + access.subresource if access.subresource else "")
    resource_ok = False
    for r in resources:
        if r == "*" or r == combined:
            resource_ok = True
        elif access.subresource and len(r) == len(access.subresource) + 2 and r.startswith("*/") \
                and r.endswith(access.subresource):
            resource_ok = True
    if not resource_ok:
        return False
    return not rule["resourceNames"] or access.name in rule["resourceNames"]


def atoms(rule):
    """A rule split into rules of one verb, group, resource (or URL) and name each."""
    out = []
    for verb in rule["verbs"]:
        for url in rule["nonResourceURLs"]:
            out.append(rbac._cluster_rule({"verbs": [verb], "nonResourceURLs": [url]}))
        for group, resource in itertools.product(rule["apiGroups"], rule["resources"]):
            for names in ([[n] for n in rule["resourceNames"]] or [[]]):
                out.append(rbac._cluster_rule({"verbs": [verb], "apiGroups": [group], "resources": [resource],
                                               "resourceNames": names}))
    return out


def crb(rules_, name="b"):
    return {"kind": "ClusterRoleBinding", "name": name, "namespace": None, "role": "ClusterRole/x",
            "rules": rules_, "baseline": False, "ignored": False}


def rb(rules_, namespace=NS, name="b"):
    return {"kind": "RoleBinding", "name": name, "namespace": namespace, "role": "Role/x", "rules": rules_,
            "baseline": False, "ignored": False}


# --------------------------------------------------------------------------- the matcher

@given(resource_requests())
def test_a_rule_of_wildcards_covers_every_resource_request(access):
    everything = rbac._cluster_rule({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
    assert rbac.rule_allows(everything, access)


@given(url_requests())
def test_a_wildcard_url_rule_covers_every_non_resource_request(access):
    assert rbac.rule_allows(rbac._cluster_rule({"verbs": ["*"], "nonResourceURLs": ["*"]}), access)


@given(rules, requests)
def test_the_matcher_agrees_with_a_transcription_of_the_authorizer(rule, access):
    assert rbac.rule_allows(rule, access) == reference_allows(rule, access)


@given(rules, requests)
def test_a_rule_allows_exactly_what_one_of_its_atoms_allows(rule, access):
    assert rbac.rule_allows(rule, access) == any(rbac.rule_allows(a, access) for a in atoms(rule))


@given(rule_lists, requests, st.randoms())
def test_a_rule_set_allows_a_request_iff_some_single_rule_does(rules_, access, rnd):
    expected = any(rbac.rule_allows(r, access) for r in rules_)
    assert rbac.rules_allow(rules_, access) == expected
    shuffled = list(rules_)
    rnd.shuffle(shuffled)
    assert rbac.rules_allow(shuffled, access) == expected  # order plays no part
    # and a ClusterRoleBinding of those rules allows it (anywhere) exactly then
    assert (rbac.allowed_by(access, [crb(rules_)]) is not None) == expected


@given(rule_lists, rules, requests)
def test_adding_a_rule_never_takes_a_right_away(rules_, extra, access):
    if rbac.rules_allow(rules_, access):
        assert rbac.rules_allow(rules_ + [extra], access)


@given(resource_rules(), st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True), resource_requests())
def test_resource_names_only_narrow(rule, names, access):
    """A rule with resourceNames allows a request iff the same rule without them does and the request
    names one of them -- a request without a name (list, create, watch of a collection) never."""
    unnamed = dict(rule, resourceNames=[])
    named = dict(rule, resourceNames=names)
    assert rbac.rule_allows(named, access) == (rbac.rule_allows(unnamed, access) and access.name in names)
    if not access.name:
        assert not rbac.rule_allows(named, access)


@given(resource_rules(), resource_requests())
def test_api_groups_must_match_exactly_or_by_wildcard(rule, access):
    if rbac.rule_allows(rule, access):
        assert access.group in rule["apiGroups"] or "*" in rule["apiGroups"]
        assert access.verb in rule["verbs"] or "*" in rule["verbs"]
    other = dict(rule, apiGroups=[g for g in rule["apiGroups"] if g not in ("*", access.group)])
    assert not rbac.rule_allows(other, access)


@given(resource_rules(), st.sampled_from(["pods", "deployments", "secrets"]), st.sampled_from(["exec", "log", "scale"]))
def test_a_resource_never_implies_its_subresources(rule, resource, sub):
    assume("*" not in rule["resources"] and "*/" + sub not in rule["resources"]
           and "%s/%s" % (resource, sub) not in rule["resources"])
    access = rbac.make_access("get", "", "%s/%s" % (resource, sub), namespace=NS)
    assert not rbac.rule_allows(dict(rule, verbs=["*"], apiGroups=["*"], resourceNames=[]), access)


# --------------------------------------------------------------------------- bindings and the excess check

@given(rule_lists, resource_requests(), st.sampled_from(["", NS, "other"]))
def test_a_rolebinding_grants_only_in_its_namespace(rules_, access, namespace):
    access = access._replace(namespace=namespace)
    granted = rbac.allowed_by(access, [rb(rules_)]) is not None
    assert granted == (namespace == NS and rbac.rules_allow(rules_, access))


@given(rule_lists, url_requests())
def test_a_rolebinding_never_grants_a_non_resource_url(rules_, access):
    assert rbac.allowed_by(access, [rb(rules_)]) is None


@given(rule_lists, rule_lists, st.lists(requests, min_size=1, max_size=25))
def test_the_excess_check_is_sound(granted, matrix_rules, probes):
    """Nothing the excess check lets through allows a request the matrix does not: if a RoleBinding of
    the release namespace has no excess over the matrix, every request it allows there is allowed by
    the matrix (and a ClusterRoleBinding with no excess over the optional cluster rules likewise)."""
    matrix_rules = [r for r in matrix_rules if not r["nonResourceURLs"]]  # the matrix is namespaced
    if not rbac.find_excess([rb(granted)], NS, matrix_rules, []):
        for access in probes:
            if access.path:
                continue
            access = access._replace(namespace=NS)
            if rbac.allowed_by(access, [rb(granted)]):
                assert rbac.rules_allow(matrix_rules, access), (access, granted, matrix_rules)
    if not rbac.find_excess([crb(granted)], NS, [], matrix_rules):
        for access in probes:
            if rbac.allowed_by(access, [crb(granted)]):
                assert rbac.rules_allow(matrix_rules, access), (access, granted, matrix_rules)


@given(rule_lists)
def test_the_matrix_itself_is_never_excess(matrix_rules):
    matrix_rules = [r for r in matrix_rules if not r["nonResourceURLs"]]
    assert rbac.find_excess([rb(matrix_rules)], NS, matrix_rules, []) == []


@given(st.sampled_from(sorted(rbac.DEFAULT_POLICY)), rule_lists, requests)
def test_a_default_policy_binding_covers_only_the_default_rules(name, extra, access):
    """Whatever a ClusterRole of a default-policy name grants beyond the default policy is reported."""
    binding = dict(crb(rbac.DEFAULT_POLICY[name]["rules"] + extra, name=name), baseline=True)
    excess = rbac.find_excess([binding], NS, [], [])
    if rbac.allowed_by(access, [binding]) and not rbac.rules_allow(rbac.DEFAULT_POLICY[name]["rules"], access):
        assert excess
    assert rbac.find_excess([dict(binding, rules=rbac.DEFAULT_POLICY[name]["rules"])], NS, [], []) == []


# --------------------------------------------------------------------------- escalation risks

def risk_ids(rules_, kind="RoleBinding"):
    binding = rb(rules_) if kind == "RoleBinding" else crb(rules_)
    return {r["risk"] for r in rbac.find_risks([binding], NS)}


@given(rule_lists, rules)
def test_more_rules_never_hide_a_risk(rules_, extra):
    assert risk_ids(rules_) <= risk_ids(rules_ + [extra])


@given(resource_rules())
def test_resource_names_never_hide_a_risk(rule):
    assert risk_ids([dict(rule, resourceNames=[])]) == risk_ids([dict(rule, resourceNames=["a"])])


@given(rule_lists)
def test_every_way_to_start_a_pod_is_an_escalation_path(rules_):
    def allows(verb, group, resource):
        unnamed = [dict(r, resourceNames=[]) for r in rules_]
        return rbac.rules_allow(unnamed, rbac.make_access(verb, group, resource, namespace=NS))

    can_start = (allows("create", "", "pods")
                 or any(allows(v, "", "replicationcontrollers") for v in ("create", "update", "patch"))
                 or any(allows(v, "apps", r) for v in ("create", "update", "patch")
                        for r in ("deployments", "statefulsets", "daemonsets", "replicasets"))
                 or any(allows(v, "batch", r) for v in ("create", "update", "patch") for r in ("jobs", "cronjobs")))
    assert ("assign-service-account" in risk_ids(rules_)) == can_start
    reads = any(allows(v, "", "secrets") for v in ("get", "list", "watch"))
    assert ("read-secrets" in risk_ids(rules_)) == reads
    assert ("token-request" in risk_ids(rules_)) == allows("create", "", "serviceaccounts/token")


@given(rule_lists)
def test_a_wildcard_anywhere_is_a_risk(rules_):
    has = any("*" in r["verbs"] or "*" in r["apiGroups"] or "*" in r["nonResourceURLs"]
              or any(x == "*" or x.startswith("*/") for x in r["resources"]) for r in rules_)
    assert ("wildcard" in risk_ids(rules_, "ClusterRoleBinding")) == has
