# kubelab: the two commands are `make demo` and `make test`; everything else is a step of them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
KUBELAB := $(BIN)/kubelab

.PHONY: demo test unit lint lab site host browser venv up down doctor images prepare bench gc clean

## demo: prepare the host, bring up the default cluster, show it, run the tour notebook on it and
## build the website from that run (out/site/index.html)
demo: host venv up
	$(BIN)/python -m kubelab.cli.demo
	$(KUBELAB) run 00
	$(KUBELAB) site

## test: prepare the host, bring up the default cluster, build everything the notebooks and tests
## declare they need (node images, add-ons), then run every test and every notebook (each executed
## once: quiet ones side by side; their stable outputs compared with nbval's rules), then print the
## notebooks' table and the coverage totals; then build the website from those runs and check it
## in headless Chromium
test: host browser venv up
	$(KUBELAB) prepare --tests
	@# built as the offline build builds them (static, -trimpath), so the tests reuse its compiled packages
	cd clusters/offline/shim && CGO_ENABLED=0 go test -trimpath ./...
	cd clusters/offline/go && CGO_ENABLED=0 go test -trimpath ./cmd/...
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest tests

## unit: the tests that need no cluster, and the lint
unit: venv lint
	$(BIN)/pytest -m "not cluster"

## lint: the package's layers import downwards only (import-linter), the code is formatted (ruff,
## 100 columns, notebooks included) and has no pyflakes errors (ruff; no notebook line over 100)
lint: venv
	$(BIN)/lint-imports
	$(BIN)/ruff format --check kubelab tests scripts notebooks
	$(BIN)/ruff check kubelab tests scripts notebooks

## lab: JupyterLab on the notebooks, with the default cluster up
lab: host venv up
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kubelab)" >/dev/null
	cd notebooks && ../$(BIN)/jupyter lab

## site: the website (out/site) from the notebooks the last `make test` or `kubelab run` executed
site: venv
	$(KUBELAB) site

host:
	scripts/prepare-host.sh

browser:
	scripts/prepare-host.sh --browser

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

gc: venv
	$(KUBELAB) gc

images: venv
	$(KUBELAB) images build

## prepare: build everything the notebooks and the tests will need (what `make test` builds first)
prepare: venv
	$(KUBELAB) prepare --tests

## bench: build and cluster figures for the offline path (see scripts/benchmark.py)
bench: host venv
	$(BIN)/python scripts/benchmark.py

clean:
	rm -rf $(VENV)
