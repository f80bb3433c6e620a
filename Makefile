# thinkgate developer commands. `make demo` and `make test` work on a fresh machine (they set up what they need).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lock lock-upgrade venv demo test test-fast test-e2e test-browser vllm redis browser image-test lint format bench clean

# Installs are reproducible: uv (pinned below) installs exactly what uv.lock says, into .venv.
# Refresh the lock after editing dependencies: `make lock` (or `make lock-upgrade` to take newer releases).
UV_VERSION := 0.13.8
UV := .cache/uv/bin/uv
UV_SYNC := $(UV) sync --locked --all-extras --python 3.11

$(UV):
	$(PY) -m venv .cache/uv
	.cache/uv/bin/pip install -q uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV_SYNC)
	touch $(STAMP)

VLLM_LOCK := $(UV) pip compile scripts/vllm/requirements.in --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --find-links /opt/wheels --no-header

lock: | $(UV)
	$(UV) lock --python 3.11
	{ echo "# Pins for the real-vLLM test venv (scripts/vllm/setup.sh). Refresh: make lock"; \
	  $(VLLM_LOCK); } > scripts/vllm/constraints.txt.new && mv scripts/vllm/constraints.txt.new scripts/vllm/constraints.txt

lock-upgrade: | $(UV)
	$(UV) lock --upgrade --python 3.11

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/thinkgate demo

vllm:
	bash scripts/vllm/setup.sh

redis:
	bash scripts/ensure_redis.sh

# Debian's chromium + chromedriver for the console's browser tests (tests/browser, one in tests/e2e).
browser:
	bash scripts/ensure_chromium.sh

# The whole suite: unit, integration (simulator), browser (system chromium), e2e (real vLLM on CPU).
test: $(STAMP) vllm redis browser
	$(BIN)/pytest tests

test-fast: $(STAMP) redis
	$(BIN)/pytest tests/unit tests/integration

test-e2e: $(STAMP) vllm browser
	$(BIN)/pytest tests/e2e

# Build the container image from deploy/docker/Dockerfile with buildah (on a Debian base made by mmdebstrap, both
# from Debian's packages) and smoke-test it: its own entrypoint, as its own user, against simulators. Needs root.
image-test: $(STAMP)
	bash scripts/image/test.sh

test-browser: $(STAMP) browser
	$(BIN)/pytest tests/browser

lint: $(STAMP)
	$(BIN)/ruff check gateway router templates simulator tests benchmarks scripts deploy
	$(BIN)/ruff format --check gateway router templates simulator tests benchmarks scripts deploy
	$(BIN)/mypy --strict
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format gateway router templates simulator tests benchmarks scripts
	$(BIN)/ruff check --fix gateway router templates simulator tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/proxy_overhead.py

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache
