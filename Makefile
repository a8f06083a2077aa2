# Briefing: `make run` serves the app, `make test` runs the tests. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# PYTHONWARNINGS: setuptools warns on every editable build that the source tree is what gets imported (the point of it)
PIP := PYTHONWARNINGS=ignore $(PY) -m pip install -q --disable-pip-version-check
BRIEFING := $(VENV)/bin/briefing
STAMP := $(VENV)/.installed
SHARED ?= ../shared
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# `make run` adds what the chosen answer backend needs: llama-cpp compiles llama.cpp, the servers' clients do not
BACKEND := $(or $(BRIEFING_ANSWER_BACKEND),extractive)
RUN_NEEDS := $(STAMP) $(if $(filter llama-cpp,$(BACKEND)),$(STAMP)-llm,$(if $(filter ollama openai-like,$(BACKEND)),$(STAMP)-llm-client))
# One numbered line per install step, then how long it took
step = @echo "▸ $(1)"; start=$$SECONDS; $(2) && echo "  done in $$((SECONDS - start)) s"

.PHONY: install llm run test test-fast eval train bench lint format clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 2; }
	$(call step,creating $(VENV),$(PYTHON) -m venv $(VENV) && $(PIP) --upgrade pip)
	# torch first, pinned: pip then never resolves a multi-GB CUDA build
	$(call step,installing torch 2.13.0 (CPU build),$(PIP) torch==2.13.0)
	$(call step,installing Briefing and its dependencies,$(PIP) -e .)
	touch $(STAMP)

$(STAMP)-dev: $(STAMP)
	$(call step,installing the test tools (pytest; Playwright drives the system Chromium),$(PIP) -e '.[dev]')
	touch $@

$(STAMP)-llm-client: $(STAMP)
	$(call step,BRIEFING_ANSWER_BACKEND=$(BACKEND): installing the LLM server clients,$(PIP) -e '.[llm-client]')
	touch $@

# GGML_NATIVE=OFF: a native build turns on the CPU's AMX kernels, which die (general protection fault at
# ldtilecfg) on VMs that report AMX without allowing it; OFF builds the portable AVX2/FMA/F16C set instead.
# PIP_NO_CACHE_DIR: pip's wheel cache ignores CMAKE_ARGS, so a wheel once built natively would come back.
$(STAMP)-llm: $(STAMP)
	$(call step,building llama-cpp-python: compiling llama.cpp for the local LLM backend (several minutes),CMAKE_ARGS="-DGGML_NATIVE=OFF $$CMAKE_ARGS" PIP_NO_CACHE_DIR=1 $(PIP) -e '.[llm]')
	touch $@ $(STAMP)-llm-client

install: $(STAMP)  ## create .venv with what the default product needs (no LLM backend, no compile)

llm: $(STAMP)-llm  ## add the LLM backends (compiles llama.cpp)

run: $(RUN_NEEDS)  ## build or update the index from corpus/, then serve the UI on 127.0.0.1:7860
	$(BRIEFING) index
	$(BRIEFING) serve

test: $(STAMP)-dev $(STAMP)-llm  ## the whole test suite, the LLM path against a real llama.cpp server
	$(PY) -m pytest -q -ra

test-fast: $(STAMP)-dev  ## unit tests only
	$(PY) -m pytest -q -m "not slow and not llm and not browser"

EVAL_SETS := --questions $(SHARED)/eval/train-questions.jsonl --questions $(SHARED)/eval/dev-questions.jsonl

eval: install  ## 5-fold cross-validated metrics on ../shared/eval (train + dev) over ../shared/external-corpus
	$(BRIEFING) eval --corpus $(SHARED)/external-corpus --index-dir .cache/eval-index $(EVAL_SETS) --cv 5 \
	  --briefs $(SHARED)/eval/train-briefs.jsonl --briefs $(SHARED)/eval/dev-briefs.jsonl -o eval-results/eval.json

train: install  ## refit briefing/data/answer-model.json on ../shared/eval (train + dev), cross-validated first
	$(BRIEFING) train --corpus $(SHARED)/external-corpus --index-dir .cache/eval-index $(EVAL_SETS) --cv 5

bench: install  ## benchmarks against LlamaIndex defaults; writes bench/results.json
	$(PY) bench/run.py --corpus $(SHARED)/external-corpus --questions $(SHARED)/eval/dev-questions.jsonl

lint: $(STAMP)-dev
	$(VENV)/bin/ruff check briefing ui tests bench scripts
	$(VENV)/bin/ruff format --check briefing ui tests bench scripts

format: $(STAMP)-dev
	$(VENV)/bin/ruff format briefing ui tests bench scripts
	$(VENV)/bin/ruff check --fix briefing ui tests bench scripts

clean:
	rm -rf $(VENV) .cache .pytest_cache eval-results
