# kubiya.runners — developer entry points. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

REPO := $(CURDIR)
VENV := $(REPO)/.venv
TOOLS := $(REPO)/.tools/bin
COLLECTIONS := $(REPO)/.build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/kubiya/runners
# outside the work tree: inside it, ansible-test would ask git and see only ignored files
SANITY_ROOT := $(HOME)/.cache/kubiya-runners/sanity/ansible_collections/kubiya/runners
PY := $(VENV)/bin/python
# pip version ansible-test bootstraps into its sanity venvs (see tools/ansible-test-get-pip.py)
ANSIBLE_TEST_PIP := 24.2

export PATH := $(TOOLS):$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_LOCAL_TEMP := $(REPO)/.build/ansible-tmp
export ANSIBLE_HOME := $(REPO)/.build/ansible-home
# helm-diff (tools/helm-diff.sh) lives here: check mode with --diff uses it
export HELM_PLUGINS := $(REPO)/.tools/helm-plugins
DEMO_CUSTOMER ?= acme
DEMO_NAMESPACE ?= kubiya-$(DEMO_CUSTOMER)
# state of the demo, where the cluster/central scripts keep it (their env vars honoured)
DEMO_CLUSTER_DIR = $(or $(KUBIYA_CLUSTER_DIR),$(REPO)/.cluster)
DEMO_PIPELINE_DIR = $(or $(KUBIYA_DEMO_PIPELINE_DIR),$(REPO)/.pipeline)
DEMO_ENV = KUBECONFIG=$(DEMO_CLUSTER_DIR)/kubeconfig KUBIYA_DEMO_PIPELINE_DIR=$(DEMO_PIPELINE_DIR) \
  KUBIYA_VAULT_PASSWORD=kubiya-example-vault \
  ANSIBLE_VAULT_PASSWORD_FILE=$(REPO)/inventories/example/vault-pass-client.sh

.PHONY: help setup venv tools chart-deps test lint yamllint ansible-lint ruff sanity pytest unit bench \
        cluster-up cluster-down cluster-status central-up central-down build package-chart new-customer demo demo-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: venv tools chart-deps $(COLLECTION_LINK) ## install the pinned toolchain into the repo (idempotent)
	@echo "setup complete: python tools in .venv/bin, helm/kubectl in .tools/bin"

# The charts' dependency archives (charts/*/charts/*.tgz, git-ignored), rebuilt when a chart
# file changed (tools/chart-deps.sh compares content hashes; a no-op otherwise).
chart-deps: ## build the charts' dependency archives (after editing a subchart)
	PATH=$(REPO)/.tools/bin:$$PATH tools/chart-deps.sh

# The venv is rebuilt only when the pinned requirements change.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-lock.txt requirements-dev.txt requirements.txt
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c requirements-lock.txt -r requirements-dev.txt
	touch $@

# helm, kubectl and the local control plane binaries, built once per pinned
# version into ~/.cache/kubiya-runners and linked into .tools/bin.
tools:
	tools/build.sh all
	tools/link-tools.sh
	@# Alloy's own config parser (github.com/grafana/alloy/syntax); Go's build cache makes re-runs fast
	cd tools/alloycheck && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o $(CURDIR)/.tools/bin/alloycheck .
	tools/helm-diff.sh

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(REPO) $@

# Each gate's wall time is printed. By default (TEST_PARALLEL=1) lint+sanity (~150 s of CPU)
# run beside chart-ci+pytest - measured: chart-ci took 20 s longer, the static gates' 147 s left
# the critical path - and the run fails if any gate failed (their log: .build/test-static.log,
# printed at the end).
# TEST_PARALLEL=0: one gate after another, stopping at the first failing one.
# chart-ci's ct install starts the local control plane and keeps it for pytest; the cluster
# is stopped at the end unless it was running before make test.
TEST_PARALLEL ?= 1
test: setup ## every gate: yamllint, ansible-lint, ruff, ansible-test sanity, chart-ci, pytest (TEST_PARALLEL=0: one after another)
	@gate() { local s=$$(date +%s) rc=0; $(MAKE) --no-print-directory "$$1" || rc=$$?; \
	  echo "make test: gate $$1 $$( ((rc)) && echo FAILED || echo passed) in $$(( $$(date +%s) - s )) s"; return $$rc; }; \
	was_up=0; if [ -f "$(DEMO_CLUSTER_DIR)/kubeconfig" ] && tests/cluster/status.sh >/dev/null 2>&1; then was_up=1; fi; \
	down() { if [ $$was_up = 0 ]; then tests/cluster/down.sh >/dev/null 2>&1 || true; fi; }; \
	if [ "$(TEST_PARALLEL)" = 1 ]; then \
	  mkdir -p .build; { gate lint && gate sanity; } > .build/test-static.log 2>&1 & static=$$!; \
	  rc=0; { KUBIYA_KEEP_CLUSTER=1 gate chart-ci && gate pytest; } || rc=$$?; src=0; wait $$static || src=$$?; \
	  down; cat .build/test-static.log; exit $$(( rc || src )); \
	else rc=0; { gate lint && gate sanity && KUBIYA_KEEP_CLUSTER=1 gate chart-ci && gate pytest; } || rc=$$?; down; exit $$rc; fi

lint: yamllint ansible-lint ruff ## YAML, Ansible and Python lint

yamllint:
	yamllint --strict .

ansible-lint:
	ansible-lint --offline --profile production

# Python: one linter, pinned (requirements-lock.txt), configured in ruff.toml
ruff:
	ruff check .

# ansible-test needs the collection at ansible_collections/kubiya/runners:
# copy the files git knows (tracked or new, not ignored) there and run it.
chart-ci: ## chart-testing: ct lint (each ci/ values file, Chart.yaml schema, version-bump check) and ct install on the local cluster
	tools/chart-ci.sh lint
	tools/chart-ci.sh install

sanity: ## ansible-test sanity on a copy at ansible_collections/kubiya/runners
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	git ls-files -co --exclude-standard -z | xargs -0 -I{} sh -c 'test -e "{}" && echo "{}"' \
	  | tar -cf - -T - | tar -xf - -C $(SANITY_ROOT)
	# Helm templates are Go templates, not YAML: helm lint and the chart tests
	# check them; ansible-test's yamllint is told to skip them in the copy.
	cd $(SANITY_ROOT) && mkdir -p tests/sanity && find charts -path '*/templates/*' -name '*.yaml' \
	  | sort | sed 's/$$/ yamllint!skip/' >> tests/sanity/ignore-2.19.txt
	# kubernetes.core (doc fragment, module_utils) next to the copy, where ansible-test looks
	rm -rf $(SANITY_ROOT)/../../kubernetes/core && mkdir -p $(SANITY_ROOT)/../../kubernetes
	cp -r "$$($(PY) -c 'import os, ansible_collections.kubernetes.core.plugins.module_utils as m; print(os.path.dirname(os.path.dirname(os.path.dirname(m.__file__))))')" $(SANITY_ROOT)/../../kubernetes/core
	install -D -m 0644 tools/ansible-test-get-pip.py $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(ANSIBLE_TEST_PIP)).py
	cd $(SANITY_ROOT) && ansible-test sanity --venv --python 3.11 --color no \
	  --skip-test shellcheck $(SANITY_ARGS)

# pytest-xdist: PYTEST_WORKERS processes run the tests that may share the machine
# (`--dist loadfile -m "not serial"`), then the `serial` ones run alone (a fixed port or
# namespace, the central side one test restarts, wall-clock bounds: tests/conftest.py,
# SERIAL_FILES). One worker starts the cluster for all; the first part keeps it for the second,
# which stops it if this run started it. PYTEST_WORKERS=0: one serial run of everything.
PYTEST_WORKERS ?= 2
PYTEST_XDIST = $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile)

pytest: ## all pytest suites (unit, chart, local cluster, integration); PYTEST_WORKERS=N: xdist (0: serial)
	@if [ "$(PYTEST_WORKERS)" = 0 ]; then exec pytest --durations=25 $(PYTEST_ARGS); fi; \
	  was_up=0; if [ -f "$(DEMO_CLUSTER_DIR)/kubeconfig" ] && tests/cluster/status.sh >/dev/null 2>&1; then was_up=1; fi; \
	  rc=0; s=$$(date +%s); KUBIYA_KEEP_CLUSTER=1 pytest $(PYTEST_XDIST) -m "not serial" --durations=25 $(PYTEST_ARGS) || rc=$$?; \
	  echo "make pytest: parallel part ($(PYTEST_WORKERS) workers) rc=$$rc in $$(( $$(date +%s) - s )) s"; \
	  s=$$(date +%s); src=0; \
	  if [ $$was_up = 1 ]; then pytest -m serial --durations=25 $(PYTEST_ARGS) || src=$$?; \
	  else KUBIYA_STOP_CLUSTER_AFTER=1 pytest -m serial --durations=25 $(PYTEST_ARGS) || src=$$?; fi; \
	  echo "make pytest: serial part rc=$$src in $$(( $$(date +%s) - s )) s"; \
	  if [ $$rc = 5 ] && [ $$src != 5 ]; then rc=0; elif [ $$src = 5 ] && [ $$rc != 5 ]; then src=0; fi; \
	  exit $$(( rc || src ))

# Side by side on the local control plane: bare helm, our deploy+verify (health window at its
# default and at 0), the idempotent re-run, verify, remove; median/min/max of BENCH_RUNS.
# BENCH_ARGS: --fleet 1,5,20 [--forks N], --profile, --only verify|fleet, --prefix, --json FILE.
BENCH_RUNS ?= 3
bench: setup ## time deploy+verify against bare helm on the local cluster (tools/bench/bench.py)
	KUBECONFIG=$(or $(KUBECONFIG),$(DEMO_CLUSTER_DIR)/kubeconfig) $(PY) tools/bench/bench.py --runs $(BENCH_RUNS) $(BENCH_ARGS)

unit: ## only the tests that need no cluster
	pytest tests/unit $(PYTEST_ARGS)

cluster-up: tools ## start the local control plane (etcd, apiserver, controllers, kwok)
	tests/cluster/up.sh

cluster-down: ## stop the local control plane and remove its state
	tests/cluster/down.sh

cluster-status: ## show the local control plane's processes and nodes
	tests/cluster/status.sh

central-up: ## start the local central side: Prometheus, OAuth2 token endpoint, auth front (127.0.0.1:39090-39092)
	tests/central/up.sh

central-down: ## stop the local central side (state kept in .central/; CENTRAL_PURGE=1 deletes it)
	tests/central/down.sh $(if $(CENTRAL_PURGE),--purge)

# Built from what git tracks, never from the work tree as it happens to be: the tracked
# files (with their current content) are copied into a fresh directory and built there, so
# local state (.pipeline/ with the demo's client secret, .cluster/, rendered/, editor
# files) cannot ship. galaxy.yml's build_ignore then drops tests and dev tooling.
DIST ?= $(REPO)/dist
TRACKED_COPY = git ls-files -z | while IFS= read -r -d '' f; do if [ -e "$$f" ]; then printf '%s\0' "$$f"; fi; done \
  | tar --null --no-recursion -T - -cf -

build: ## build the collection tarball into dist/ from the files git tracks
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && src=$$tmp/ansible_collections/kubiya/runners && \
	  mkdir -p "$$src" $(DIST) && $(TRACKED_COPY) | tar -xf - -C "$$src" && \
	  PATH=$(REPO)/.tools/bin:$$PATH tools/chart-deps.sh "$$src/charts" && \
	  ansible-galaxy collection build --force --output-path $(DIST) "$$src"

package-chart: ## package the runner chart into dist/ from the files git tracks
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  mkdir -p $(DIST) && $(TRACKED_COPY) | tar -xf - -C "$$tmp" && \
	  PATH=$(REPO)/.tools/bin:$$PATH tools/chart-deps.sh "$$tmp/charts" && \
	  helm package "$$tmp/charts/kubiya-runner" --destination $(DIST)

# Scaffold a customer: host_vars/<NAME>/main.yml, host_vars/<NAME>/vault (placeholders,
# encrypted with vault id <NAME> through vault-pass-client.sh) and the host in hosts.yml.
# The recipe around it: inventories/example/README.md, "Add a customer".
INVENTORY ?= inventories/example
new-customer: ## scaffold a customer: make new-customer NAME=<customer> UUID=<runner uuid> [ORG=..] [RUNNER=..] [INVENTORY=..]
	@test -n "$(NAME)" -a -n "$(UUID)" || { echo "usage: make new-customer NAME=<customer> UUID=<runner uuid> [ORG=<organization>] [RUNNER=<runner name>] [INVENTORY=$(INVENTORY)]" >&2; exit 2; }
	ansible-playbook -i localhost, inventories/new-customer.yml -e customer='$(NAME)' -e runner_uuid='$(UUID)' \
	  -e inventory='$(abspath $(INVENTORY))' $(if $(ORG),-e runner_organization='$(ORG)') $(if $(RUNNER),-e runner_name='$(RUNNER)')

# 1. deploy the example customer with remote write to the local central side (extra vars
#    generated into $(DEMO_PIPELINE_DIR), 0600: the committed example is not edited);
# 2. start the stand-in pipeline (kube-state-metrics, stand-ins, Prometheus agent) for it;
# 3. kubiya.runners.verify with metric delivery on: the report ends with the checks' table.
demo: setup cluster-up central-up ## deploy the example customer, start its telemetry pipeline, verify it (with the metrics table)
	$(DEMO_ENV) $(PY) tools/demo/demo_pipeline.py stop
	$(DEMO_ENV) $(PY) tools/demo/demo_pipeline.py vars
	$(DEMO_ENV) ansible-playbook -i inventories/example/hosts.yml kubiya.runners.deploy --limit $(DEMO_CUSTOMER) \
	  -e @$(DEMO_PIPELINE_DIR)/deploy-vars.yml
	$(DEMO_ENV) $(PY) tools/demo/demo_pipeline.py start --namespace $(DEMO_NAMESPACE)
	$(DEMO_ENV) ansible-playbook -i inventories/example/hosts.yml kubiya.runners.verify --limit $(DEMO_CUSTOMER) \
	  -e @$(DEMO_PIPELINE_DIR)/verify-vars.yml

demo-down: ## stop what make demo started: its pipeline processes, the central side, the cluster
	$(DEMO_ENV) $(PY) tools/demo/demo_pipeline.py stop
	rm -f $(DEMO_PIPELINE_DIR)/deploy-vars.yml $(DEMO_PIPELINE_DIR)/verify-vars.yml
	tests/central/down.sh
	tests/cluster/down.sh

clean: cluster-down ## remove build output and local state (keeps .venv and the binary cache)
	rm -rf .build dist .pytest_cache

# ---- dashboards and alert rules as code (monitoring/ -> roles/grafana/files/)
.PHONY: monitoring monitoring-check
monitoring: venv ## regenerate dashboards, rule file, promtool tests and Grafana alert payloads
	$(PY) -m monitoring.generate

monitoring-check: venv ## generated files up to date, every query Azure-safe, promtool check + test rules
	$(PY) -m monitoring.generate --check
	$(PY) -m pytest -q tests/unit/monitoring

# Each committed dashboard drawn to docs/previews/<dashboard>.png from a Prometheus (default:
# the local central one of `make demo`) by monitoring/preview.py with matplotlib -- not Grafana.
# PROMETHEUS_URL, PREVIEW_ARGS (--range 1h, --var runner=NAME, --dpi N, dashboard file stems).
PROMETHEUS_URL ?= http://127.0.0.1:$(or $(KUBIYA_CENTRAL_PROMETHEUS_PORT),39090)
.PHONY: dashboards-preview
dashboards-preview: venv ## draw every dashboard's panels to docs/previews/*.png from the local central Prometheus (after make demo)
	$(PY) -m monitoring.preview --prometheus-url '$(PROMETHEUS_URL)' $(PREVIEW_ARGS)

.PHONY: docs
docs: ## regenerate docs/architecture.svg from docs/architecture.dot (Graphviz dot: apt-get install graphviz)
	dot -Tsvg docs/architecture.dot \
	  | sed '1a <!-- source: docs/architecture.dot sha256:'"$$(sha256sum docs/architecture.dot | cut -d' ' -f1)"' -->' \
	  > docs/architecture.svg.tmp
	mv docs/architecture.svg.tmp docs/architecture.svg

# --- release (docs/releasing.md) -------------------------------------------------------
# A local OCI registry (Debian docker-registry, TLS with a test CA, htpasswd) on
# 127.0.0.1:$(KUBIYA_REGISTRY_PORT) (default 39500), state in .registry/ (tests/registry/).
.PHONY: registry-up registry-down images changelog-check galaxy-importer ee-context release
registry-up: ## start the local OCI chart registry (TLS, htpasswd; credentials in .registry/credentials.json)
	tests/registry/up.sh
	tests/registry/signing-key.sh >/dev/null

registry-down: ## stop the local OCI chart registry (REGISTRY_PURGE=1 also deletes .registry/)
	tests/registry/down.sh $(if $(REGISTRY_PURGE),--purge)

images: chart-deps ## every image the chart deploys (registry, repository, tag, digest) into dist/images.json and .txt
	$(PY) tools/release/images.py --json $(DIST)/images.json --txt $(DIST)/images.txt
	@echo "wrote $(DIST)/images.json and $(DIST)/images.txt"

changelog-check: ## a change to plugins/roles/charts/playbooks/meta carries a changelog fragment (BASE=main)
	tools/release/check-fragments.sh $(or $(BASE),main)

# galaxy-importer pins packages below the dev venv's (attrs, flake8): its own venv.
IMPORTER_VENV := $(REPO)/.build/importer-venv
$(IMPORTER_VENV)/.installed: tools/release/requirements-importer.txt tools/release/requirements-importer-lock.txt
	test -x $(IMPORTER_VENV)/bin/python || python3.11 -m venv $(IMPORTER_VENV)
	$(IMPORTER_VENV)/bin/pip install -q --disable-pip-version-check -c tools/release/requirements-importer-lock.txt \
	  -r tools/release/requirements-importer.txt
	touch $@

galaxy-importer: $(IMPORTER_VENV)/.installed ## Galaxy's import check on the built tarball (TARBALL=dist/kubiya-runners-<v>.tar.gz)
	@tarball='$(or $(TARBALL),$(DIST)/kubiya-runners-$(shell sed -n 's/^version: *//p' galaxy.yml).tar.gz)' && \
	  test -f "$$tarball" || { echo "no $$tarball: make build first" >&2; exit 2; }
	@# the collection's dependencies (galaxy.yml) beside ansible-core in the importer's venv, where
	@# ansible-doc finds them whatever ANSIBLE_COLLECTIONS_PATH the importer sets: Galaxy resolves
	@# dependencies, the importer alone does not (the modules use kubernetes.core's doc fragment)
	@sp=$$($(IMPORTER_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
	  src=$$($(PY) -c 'import ansible_collections; print(list(ansible_collections.__path__)[0])') && \
	  for c in kubernetes/core azure/azcollection community/grafana; do \
	    mkdir -p "$$sp/ansible_collections/$${c%/*}" && ln -sfn "$$src/$$c" "$$sp/ansible_collections/$$c"; done
	GALAXY_IMPORTER_CONFIG=$(REPO)/tools/release/galaxy-importer.cfg PATH=$(IMPORTER_VENV)/bin:$$PATH \
	  $(IMPORTER_VENV)/bin/python tools/release/galaxy_import.py \
	  '$(or $(TARBALL),$(DIST)/kubiya-runners-$(shell sed -n 's/^version: *//p' galaxy.yml).tar.gz)' \
	  $(if $(IMPORTER_LOG),--log $(IMPORTER_LOG))

ee-context: build ## ansible-builder create: the execution environment's build context into dist/ee-context
	rm -rf $(DIST)/ee-context
	ansible-builder create -f execution-environment.yml -c $(DIST)/ee-context --output-filename Containerfile

release: ## make release VERSION=x.y.z: refuse a dirty tree/existing version, then build, check, package (and push) into dist/
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z [RELEASE_REGISTRY=host:port/project]" >&2; exit 2; }
	tools/release/release.sh $(VERSION)
# --- Azure side (roles/azure_prometheus) -------------------------------------------------
# azure.azcollection's modules need its Python requirements (the whole Azure SDK, msgraph,
# azure-cli-core): a venv of their own, .venv-azure, pinned in requirements-azure.txt, not
# the shared .venv. ansible-playbook runs from .venv and gives the Azure modules this
# interpreter (ansible_python_interpreter); the Azure stand-in (tests/azurestandin) runs
# with it too. `make setup` builds it (measured 6 min 51 s wall, 2 min 36 s CPU, on the
# loaded shared machine; a no-op afterwards).
AZURE_VENV := $(REPO)/.venv-azure
.PHONY: azure-venv test-azure
setup: azure-venv
azure-venv: $(AZURE_VENV)/.installed ## .venv-azure: the Python of the Azure modules and of the Azure stand-in
$(AZURE_VENV)/.installed: requirements-azure.txt
	test -x $(AZURE_VENV)/bin/python || python3.11 -m venv $(AZURE_VENV) || python3 -m venv $(AZURE_VENV)
	$(AZURE_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-azure.txt
	touch $@

test-azure: azure-venv ## the Azure stand-in and roles/azure_prometheus against it (pytest -m azure)
	pytest -m azure tests/integration/azure_prometheus $(PYTEST_ARGS)
