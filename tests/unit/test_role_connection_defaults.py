"""The runner role gives its connection options (kubeconfig, context, helm binary) once, as
module_defaults, instead of on each task.

- The runbook block (tasks/main.yml) and the `verify` entry point (tasks/verify.yml, used with
  `tasks_from: verify`) carry the same module_defaults.
- Every task of the role that calls a module taking those options is covered by a key of
  that mapping (the module itself or one of its action groups, read from the collections'
  meta/runtime.yml), so an operator's runner_kubeconfig/runner_context reaches every call.
- No task restates the options (a restated one would silently win over the defaults).
"""
from __future__ import annotations

import functools

import yaml

from testlib import REPO

TASKS = REPO / "roles" / "runner" / "tasks"
CONNECTION = {"kubeconfig", "context", "binary_path"}
# modules that accept connection options, by the collection that ships them
MODULE_PREFIXES = ("kubernetes.core.", "kubiya.runners.")


def _module_defaults(path):
    (block,) = [t for t in yaml.safe_load(path.read_text()) if "block" in t]
    return block["module_defaults"]


@functools.cache
def _groups(collection):
    if collection == "kubiya.runners":
        runtime = REPO / "meta" / "runtime.yml"
    else:
        import ansible_collections.kubernetes.core as kc  # pylint: disable=import-outside-toplevel
        runtime = __import__("pathlib").Path(kc.__path__[0]) / "meta" / "runtime.yml"
    groups = yaml.safe_load(runtime.read_text()).get("action_groups") or {}
    return {f"group/{collection}.{name}": {f"{collection}.{m}" for m in members if isinstance(m, str)}
            for name, members in groups.items()}


def _covering_keys(module, defaults):
    collection = ".".join(module.split(".")[:2])
    groups = _groups(collection)
    return [k for k in defaults if k == module or module in groups.get(k, set())]


def _tasks(tasks):
    for task in tasks or []:
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key))
        yield task


def _takes_connection(module):
    """kubernetes.core's modules all do; this collection's only those built on its auth options."""
    if module.startswith("kubernetes.core."):
        return True
    source = REPO / "plugins" / "modules" / (module.rsplit(".", 1)[1] + ".py")
    return "kubernetes.core.k8s_auth_options" in source.read_text()


def _module_calls():
    for path in sorted(TASKS.glob("*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text())):
            for key, args in task.items():
                if key.startswith(MODULE_PREFIXES) and _takes_connection(key):
                    yield path.name, task.get("name", "?"), key, args if isinstance(args, dict) else {}


def test_runbook_and_verify_entry_point_share_one_module_defaults():
    assert _module_defaults(TASKS / "main.yml") == _module_defaults(TASKS / "verify.yml")


def test_every_kubernetes_and_helm_task_gets_the_connection_defaults():
    defaults = _module_defaults(TASKS / "main.yml")
    calls = list(_module_calls())
    assert len(calls) > 20  # the role's k8s/helm tasks were found
    uncovered = [(f, name, mod) for f, name, mod, _args in calls if not _covering_keys(mod, defaults)]
    assert uncovered == []


def test_no_task_restates_a_connection_option():
    restated = [(f, name, sorted(CONNECTION & set(args))) for f, name, _mod, args in _module_calls()
                if CONNECTION & set(args)]
    assert restated == []
