"""The image list (make images) and the private mirror (global.imageRegistry).

Every image a default install deploys is in the list with registry/repository/tag; every
image block of the values files is listed too (optional components). With
global.imageRegistry set, no rendered image -- in any pod template, with any ci/ values
file or optional component on -- and no upstream registry host anywhere in the rendered
manifests escapes the mirror.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

import chartlib
from testlib import REPO

TOOL = REPO / "tools" / "release" / "images.py"
MIRROR = "mirror.example.invalid:5000"
VARIANTS = {
    "default": [],
    "optional-components": ["imageUpdater.enabled=true", "workflowEngine.enabled=true"],
    **{f.name: f for f in sorted((chartlib.CHART / "ci").glob("*.yaml"))},
}


@pytest.fixture(scope="module")
def listed(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    subprocess.run([sys.executable, str(TOOL), "--json", str(out / "images.json"), "--txt", str(out / "images.txt")],
                   check=True, capture_output=True, text=True, timeout=300)
    return json.loads((out / "images.json").read_text()), (out / "images.txt").read_text().splitlines()


def test_every_default_image_is_listed_with_its_parts(listed):
    data, lines = listed
    rendered = {c["image"] for _owner, spec in chartlib.pod_templates(chartlib.render(chartlib.base_values()))
                for c in chartlib.containers(spec)}
    default = {i["image"] for i in data["images"] if i["default"]}
    assert default == rendered
    assert lines == [i["image"] for i in data["images"]]
    for i in data["images"]:
        ref = f"{i['registry']}/{i['repository']}:{i['tag']}" + (f"@{i['digest']}" if i["digest"] else "")
        assert ref == i["image"]
        assert i["tag"] and i["tag"] != "latest", i
        assert i["values"], f"{i['image']} is not set by any values key"
    assert data["chart"] == "kubiya-runner"


def test_optional_component_images_are_listed(listed):
    data = listed[0]
    docs = chartlib.render(chartlib.base_values(), sets=VARIANTS["optional-components"])
    rendered = {c["image"] for _owner, spec in chartlib.pod_templates(docs) for c in chartlib.containers(spec)}
    assert rendered <= {i["image"] for i in data["images"]}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_rendered_image_escapes_the_mirror(listed, variant):
    data = listed[0]
    how = VARIANTS[variant]
    files = [how] if not isinstance(how, list) else []
    sets = (how if isinstance(how, list) else []) + [f"global.imageRegistry={MIRROR}"]
    text = chartlib.render_text(chartlib.base_values(), files=files, sets=sets)
    docs = [d for d in yaml.safe_load_all(text) if d]
    images = [c["image"] for _owner, spec in chartlib.pod_templates(docs) for c in chartlib.containers(spec)]
    assert images
    escaped = [i for i in images if not i.startswith(MIRROR + "/")]
    assert escaped == [], escaped
    upstream = {i["registry"] for i in data["images"]}
    leaks = sorted(h for h in upstream if f"{h}/" in text)
    assert leaks == [], f"upstream registries still named in the rendered manifests: {leaks}"
