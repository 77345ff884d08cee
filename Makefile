# voipdns: `make demo` and `make test` are all a fresh machine needs; both install `.venv` first when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The only CPU build of torch on the package index here; an unpinned torch pulls GBs of CUDA wheels.
TORCH_PIN := torch==2.13.0
# dev, plus the optional loggers/launchers and the baselines (RNNoise, DeepFilterNet3) so they are tested too;
# pyproject.toml declares ranges, constraints.txt pins the exact versions tested (pip -c), so a fresh clone
# installs what the tests passed with.
# Reference implementation, used only by parity tests and benchmarks (its own deps include torchaudio: --no-deps).
REFERENCE_PKGS := denoiser==0.1.5
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install system-deps test test-full demo demo-mini lint format clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-10s %s\n", $$1, $$2}'

# sox encodes GSM-FR for the VoIP simulator (the PyAV wheel has no GSM encoder); everything else is in wheels.
system-deps:  ## install sox (GSM-FR codec) with apt-get when missing, or say how
	@command -v sox >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing sox (GSM-FR codec for the VoIP simulator)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sox) >/dev/null \
			|| echo "warning: apt-get install sox failed; GSM-FR relays and their test are skipped"; \
	else \
		echo "note: sox not found: GSM-FR relays need it (sudo apt-get install sox / brew install sox); its test is skipped"; \
	fi

$(BIN)/voipdns-train: pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory system-deps
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,wandb,slurm,baselines]'
	$(BIN)/pip install -q --no-deps $(REFERENCE_PKGS)
	$(BIN)/python -m voipdns.system_check
	@touch $@

install: $(BIN)/voipdns-train  ## create .venv with the tested versions of constraints.txt (torch CPU first)

test: install  ## fast test suite (< 10 min on 2 cores)
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

test-full: install  ## every test, the slow ones included
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup -m ''

# one intra-op thread: GTCRN's many small ops lose more to thread hand-offs than they gain (the data worker
# uses the other core)
demo: install  ## fine-tune the shipped voipdns-gtcrn on relayed speech (no dataset), print input vs enhanced
	OMP_NUM_THREADS=1 $(BIN)/voipdns-train experiment=demo

demo-mini: install  ## the same on real speech + real noise from ../shared/data
	$(BIN)/voipdns-train experiment=mini

lint: install  ## ruff check + ruff format --check (the same hooks as .pre-commit-config.yaml)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install  ## ruff format + fix imports
	$(BIN)/ruff check --fix --select I src tests bench
	$(BIN)/ruff format src tests bench

clean:  ## remove run outputs and caches (keeps .venv)
	rm -rf logs outputs multirun .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
