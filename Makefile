# thinkgate developer commands. `make demo` and `make test` work on a fresh machine (they set up what they need).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-fast test-e2e vllm redis lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/thinkgate demo

vllm:
	bash scripts/vllm/setup.sh

redis:
	bash scripts/ensure_redis.sh

# The whole suite: unit, integration (simulator), e2e (real vLLM on CPU; `make vllm` sets it up).
test: $(STAMP) vllm redis
	$(BIN)/pytest tests

test-fast: $(STAMP) redis
	$(BIN)/pytest tests/unit tests/integration

test-e2e: $(STAMP) vllm
	$(BIN)/pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check gateway router templates tests benchmarks scripts deploy
	$(BIN)/ruff format --check gateway router templates tests benchmarks scripts deploy
	$(BIN)/mypy --strict
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format gateway router templates tests benchmarks scripts
	$(BIN)/ruff check --fix gateway router templates tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/proxy_overhead.py

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache
