# profiler: the two commands of the README, plus helpers. Every target that runs something
# first runs `setup`, which installs and starts what is missing and is quick when nothing is.
# Needs root on a Debian 12 host.
#
#   make demo      set up, record the nginx sample under its workload, emit its policy
#                  (DEMO_PORT=N publishes it on 127.0.0.1:N instead of 18080)
#   make test      set up, run the test suite (PYTEST_ARGS="-k foo -x" passes options through)
#   make bench     set up, run every bench/*_bench.py (the corpus has its own target)
#   make corpus    set up, run the real-app corpus (bench/corpus.py; APPS=redis,nodejs selects)
#   make samples   (re)build the sample images that are absent or changed
#   make fixtures  regenerate the fixtures that stand for live recordings (tests/regen_fixtures.py)
#   make test-hosts  set up, then run profiler in VMs of stock Debian hosts as a user would
#                  (tests/hosts/harness.py; HOSTS="debian12 debian13 forky" selects, default all;
#                  CORPUS="redis" the corpus apps held to production there, default redis, none: none;
#                  HARVEST="redis" the samples taken through complain -> harvest -> promote, default
#                  redis, none: none)
#   make setup     only the set-up

SHELL := /bin/bash
PYTHON := .venv/bin/python
PROFILER := .venv/bin/profiler
PYTEST_ARGS ?=
HOSTS ?=

APPS ?=
# host port of the demo's nginx (127.0.0.1): make demo DEMO_PORT=19080
DEMO_PORT ?= 18080

.PHONY: setup demo test bench samples test-hosts fixtures corpus

setup:
	@bash scripts/setup.sh

samples:
	@bash scripts/build-samples.sh

demo: setup
	@mkdir -p out
	PROFILER_SAMPLE_PORT=$(DEMO_PORT) $(PROFILER) record profiler-sample-nginx -p 127.0.0.1:$(DEMO_PORT):80 --ready-port $(DEMO_PORT) --workload samples/nginx/workload.sh -o out/nginx.recording.yaml
	$(PROFILER) emit out/nginx.recording.yaml --format all -o out/nginx-policy
	@echo "demo: recording in out/nginx.recording.yaml, policy files in out/nginx-policy/:"
	@ls -1 out/nginx-policy

# pytest exits 5 when it collected no tests: that is a failure too, and says so.
test: setup
	@rc=0; $(PYTHON) -m pytest -q $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$rc

bench: setup
	@shopt -s nullglob; files=(bench/*_bench.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "make bench: no bench/*_bench.py yet" >&2; exit 1; fi; \
	rc=0; for f in "$${files[@]}"; do echo "== $$f"; $(PYTHON) "$$f" || rc=1; done; exit $$rc

corpus: setup
	$(PYTHON) bench/corpus.py $(if $(APPS),--apps $(APPS)) --markdown out/corpus-results.md

fixtures: setup
	$(PYTHON) tests/regen_fixtures.py

# Slow: builds (once, cached in /var/cache/profiler-hosts) and boots a VM per host under TCG.
test-hosts: setup
	@python3 tests/hosts/harness.py $(HOSTS) $(if $(CORPUS),--corpus "$(CORPUS)") $(if $(HARVEST),--harvest "$(HARVEST)")
