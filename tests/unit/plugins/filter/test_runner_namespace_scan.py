"""What removal and undo count as foreign in a namespace, which kinds they list, and which
customers of a play share a target (plugins/filter/runner_checks.py), on plain data."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubiya.runners.plugins.filter import runner_checks as rc

RELEASE = "kubiya-runner"
NS = "kubiya-acme"
HELM = {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NS}


def obj(kind, name, api="v1", uid=None, labels=None, annotations=None, owners=(), **metadata):
    md = {"name": name, "uid": uid or f"uid-{kind}-{name}", "labels": labels or {}, "annotations": annotations or {}}
    if owners:
        md["ownerReferences"] = [{"kind": "X", "name": "x", "uid": u} for u in owners]
    md.update(metadata)
    return {"kind": kind, "apiVersion": api, "metadata": md}


def foreign(*objects, **kw):
    return rc.foreign_objects(list(objects), RELEASE, NS, f"{RELEASE}-deploy-lock", **kw)


def test_objects_of_any_kind_that_nobody_owns_are_foreign():
    found = foreign(obj("Ingress", "shop", "networking.k8s.io/v1"), obj("Lease", "leader", "coordination.k8s.io/v1"),
                    obj("Widget", "w1", "example.com/v1"))
    assert found == ["Ingress/shop (not part of release kubiya-runner)", "Lease/leader (not part of release kubiya-runner)",
                     "Widget/w1 (not part of release kubiya-runner)"]


def test_the_release_its_controllers_children_and_kubernetes_own_objects_are_not_foreign():
    deploy = obj("Deployment", "agent-manager", "apps/v1", annotations=HELM)
    rs = obj("ReplicaSet", "agent-manager-1", "apps/v1", labels={"app.kubernetes.io/instance": RELEASE}, owners=[deploy["metadata"]["uid"]])
    pod = obj("Pod", "agent-manager-1-x", owners=[rs["metadata"]["uid"]])  # no labels at all: owned via the chain
    assert foreign(
        deploy, rs, pod,
        obj("Secret", "kubiya-runner-nats-credentials",
            labels={"app.kubernetes.io/managed-by": "kubiya.runners", "app.kubernetes.io/instance": RELEASE}),
        obj("Secret", "sh.helm.release.v1.kubiya-runner.v1", labels={"owner": "helm", "name": RELEASE}),
        obj("Pod", "kubiya-runner-test", labels={"app.kubernetes.io/instance": RELEASE},
            annotations={"helm.sh/hook": "test"}),
        obj("ConfigMap", "kube-root-ca.crt"), obj("ServiceAccount", "default"),
        obj("Event", "e1"), obj("Event", "e2", "events.k8s.io/v1"), obj("Endpoints", "svc"),
        obj("EndpointSlice", "svc-abc", "discovery.k8s.io/v1"), obj("ControllerRevision", "d-1", "apps/v1"),
        obj("Lease", f"{RELEASE}-deploy-lock", "coordination.k8s.io/v1"),
        obj("ConfigMap", "leaving", deletionTimestamp="2026-01-01T00:00:00Z")) == []


def test_labels_alone_or_another_release_are_not_ownership():
    found = foreign(
        obj("ConfigMap", "lookalike", labels={"app.kubernetes.io/instance": RELEASE}),
        obj("Service", "other", annotations={"meta.helm.sh/release-name": "other-customer"}),
        obj("Service", "same-name-elsewhere",
            annotations={"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": "kubiya-globex"}),
        obj("Secret", "sh.helm.release.v1.other.v1", labels={"owner": "helm", "name": "other"}),
        obj("Pod", "adopted", owners=["uid-of-something-foreign"]),
        obj("Pod", "kube-root-ca.crt"))
    assert [f.split(" ")[0] for f in found] == ["ConfigMap/lookalike", "Pod/adopted", "Pod/kube-root-ca.crt",
                                                "Secret/sh.helm.release.v1.other.v1", "Service/other",
                                                "Service/same-name-elsewhere"]


def test_the_release_volume_blocks_only_when_it_is_kept():
    pvc = obj("PersistentVolumeClaim", "data-dagger-engine-0", labels={"app.kubernetes.io/instance": RELEASE})
    assert foreign(pvc) == []
    assert foreign(pvc, keep_volumes=True) == [
        "PersistentVolumeClaim/data-dagger-engine-0 (volume of the release, kept: runner_remove_volumes is false)"]


def test_listable_kinds_come_from_discovery_without_noise_subresources_or_other_versions():
    apis = {
        "v1": {"Pod": {"name": "pods", "namespaced": True, "preferred": True},
               "Event": {"name": "events", "namespaced": True, "preferred": True},
               "Binding": {"name": "bindings", "namespaced": True, "preferred": True},
               "Namespace": {"name": "namespaces", "namespaced": False, "preferred": True},
               "Scale": {"name": "replicationcontrollers/scale", "namespaced": True, "preferred": True}},
        "autoscaling/v2": {"HorizontalPodAutoscaler": {"name": "horizontalpodautoscalers", "namespaced": True,
                                                       "preferred": True}},
        "autoscaling/v1": {"HorizontalPodAutoscaler": {"name": "horizontalpodautoscalers", "namespaced": True,
                                                       "preferred": False}},
        "example.com/v1": {"Widget": {"name": "widgets", "namespaced": True, "preferred": True}},
        "discovery.k8s.io/v1": {"EndpointSlice": {"name": "endpointslices", "namespaced": True, "preferred": True}},
    }
    assert rc.listable_kinds(apis) == [{"api_version": "v1", "kind": "Pod"},
                                       {"api_version": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"},
                                       {"api_version": "example.com/v1", "kind": "Widget"}]
    with pytest.raises(AnsibleFilterError):
        rc.listable_kinds(None)


def test_two_customers_on_one_namespace_of_one_cluster_are_named_together():
    targets = {"acme": {"namespace": "shared", "kubeconfig": "", "context": ""},
               "globex": {"namespace": "shared", "kubeconfig": "", "context": ""},
               "initech": {"namespace": "shared", "kubeconfig": "", "context": "other-cluster"},
               "hooli": {"namespace": "kubiya-hooli", "kubeconfig": "", "context": ""}}
    errors = rc.target_clash_errors(targets)
    assert len(errors) == 1
    assert errors[0].startswith(
        "runner_namespace: customers acme and globex all target namespace shared (kube context (default), kubeconfig (default))")
    assert rc.target_clash_errors(targets, "acme") == errors
    assert rc.target_clash_errors(targets, "initech") == []
    assert rc.target_clash_errors(targets, "hooli") == []
