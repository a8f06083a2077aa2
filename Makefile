# Briefing: `make run` serves the app, `make test` runs the tests. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
BRIEFING := $(VENV)/bin/briefing
STAMP := $(VENV)/.installed
SHARED ?= ../shared
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test test-fast eval bench lint format clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: pip then never resolves a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,llm]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install everything

run: install  ## build or update the index from corpus/, then serve the UI on 127.0.0.1:7860
	$(BRIEFING) index
	$(BRIEFING) serve

test: install  ## the whole test suite (installs the browser and starts the services it needs)
	$(PY) -m pytest -q -ra

test-fast: install  ## unit tests only
	$(PY) -m pytest -q -m "not slow and not llm and not browser"

eval: install  ## metrics on ../shared/eval over ../shared/external-corpus
	$(BRIEFING) eval --corpus $(SHARED)/external-corpus --index-dir .cache/eval-index \
	  --questions $(SHARED)/eval/dev-questions.jsonl --briefs $(SHARED)/eval/dev-briefs.jsonl -o eval-results/dev.json

bench: install  ## benchmarks against LlamaIndex defaults; writes bench/results.json
	$(PY) bench/run.py --corpus $(SHARED)/external-corpus --questions $(SHARED)/eval/dev-questions.jsonl

lint: install
	$(VENV)/bin/ruff check briefing ui tests bench scripts
	$(VENV)/bin/ruff format --check briefing ui tests bench scripts

format: install
	$(VENV)/bin/ruff format briefing ui tests bench scripts
	$(VENV)/bin/ruff check --fix briefing ui tests bench scripts

clean:
	rm -rf $(VENV) .cache .pytest_cache eval-results
