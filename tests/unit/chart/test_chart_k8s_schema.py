"""Every rendered manifest validates against the Kubernetes OpenAPI schema of the pinned version.

kubernetes-validate (PyPI) ships the schemas; it has no patch-level schemas, so the pinned
cluster v1.36.x is checked against its v1.36.0 schema set (strict: unknown fields fail).
"""
from __future__ import annotations

import kubernetes_validate
import pytest

import chartlib

SCHEMA_VERSION = f"{chartlib.KUBE_MINOR}.0"


def test_kubernetes_validate_ships_the_pinned_minor():
    # raises SchemaNotFoundError if the package has no schema for the pinned minor
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
                                 SCHEMA_VERSION, strict=True)


def test_validation_catches_a_wrong_field():
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "datta": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, SCHEMA_VERSION, strict=True)


def _validate_all(docs):
    errors = []
    for d in docs:
        try:
            kubernetes_validate.validate(d, SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{d['kind']}/{d['metadata']['name']}: {e.message}")
    assert errors == []


@pytest.mark.parametrize("values_file", chartlib.CI_VALUES, ids=lambda p: p.name)
def test_ci_values_render_valid_manifests(values_file):
    _validate_all(chartlib.render(files=[values_file]))


def test_full_render_valid_manifests(full_docs, values):
    _validate_all(full_docs)
    _validate_all(chartlib.render(values, sets=["toolManager.rbac.clusterPersistentVolumes.enabled=true",
                                                "dagger.persistence.enabled=false"]))
