# kubelab: the two commands are `make demo` and `make test`; everything else is a step of them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
KUBELAB := $(BIN)/kubelab

.PHONY: demo test unit host venv up down doctor images bench clean

## demo: prepare the host, bring up the default cluster and show it
demo: host venv up
	$(BIN)/python -m kubelab.demo

## test: prepare the host, bring up the default cluster, run every test
test: host venv up
	cd clusters/offline/shim && go test ./...
	cd clusters/offline/go && go test ./cmd/...
	$(BIN)/pytest

## unit: the tests that need no cluster
unit: venv
	$(BIN)/pytest -m "not cluster"

host:
	scripts/prepare-host.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

up: venv
	$(KUBELAB) up

down: venv
	$(KUBELAB) down

doctor: venv
	$(KUBELAB) doctor

images: venv
	$(KUBELAB) images build

## bench: build and cluster figures for the offline path (see scripts/benchmark.py)
bench: host venv
	$(BIN)/python scripts/benchmark.py

clean:
	rm -rf $(VENV)
