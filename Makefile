# Every target installs what it needs into .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install models test-packages up down test lower-tiers unit ray-library redis-tier api-tier stack-tier own-stacks-then-security session-stack integration lint format bench bench-throughput \
	bench-latency bench-priority bench-ratelimit bench-soak bench-vicky bench-compare clean

install: $(STAMP) models

models: models/tiny/config.json models/whisper-tiny/config.json  ## tiny test models (random weights, built locally)

models/tiny/config.json: models/build_tiny.py $(STAMP)
	$(BIN)/python -m models.build_tiny --out models/tiny

models/whisper-tiny/config.json: models/build_tiny_whisper.py models/build_tiny.py $(STAMP)
	$(BIN)/python -m models.build_tiny_whisper --out models/whisper-tiny

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,benchmarks,vicky,functions]"
	touch $(STAMP)

up: install            ## run the service in the foreground (Ctrl-C stops it)
	$(BIN)/vokaflow up

down: install          ## stop what `vokaflow up --detach` started
	$(BIN)/vokaflow down

# Two pytest runs side by side, each head `up` starts on ports of its own (testing/stack.py):
# the packages that start stacks of their own, then tests/security on a session stack of
# that run (SECURITY_STACK_PORTS); and tests/integration, then tests/chaos, on the other
# run's session stack. tests/conftest.py sets the order within a run.
OWN_STACKS_THEN_SECURITY := tests/foreground tests/cluster tests/cluster_auth \
	tests/chaos_node_loss tests/security
SESSION_STACK_TESTS := tests/integration tests/browser tests/chaos
SECURITY_STACK_PORTS := VOKAFLOW_TEST_PORT=8791 VOKAFLOW_TEST_RAY_PORT=6401 \
	VOKAFLOW_TEST_DASHBOARD_PORT=8276 VOKAFLOW_TEST_METRICS_PORT=8782 VOKAFLOW_TEST_SMTP_PORT=8826 \
	VOKAFLOW_TEST_OTLP_PORT=4329

# The stack runs mostly wait (for `up`, `down`, tasks that sleep): the lower tiers run beside
# them, one after another, each with redis-servers on free ports of its own.
test: install test-packages  ## every tier; each runs even if another failed; output kept per tier
	$(MAKE) --keep-going --jobs=3 --output-sync=target lower-tiers own-stacks-then-security \
		session-stack

lower-tiers: install   ## unit, Ray as a library, Redis, API: lowest first, each even if one failed
	status=0; for tier in unit ray-library redis-tier api-tier; do $(MAKE) $$tier || status=1; done; \
	exit $$status

unit: install test-packages  ## pure logic: Ray unimportable, no Redis server
	PYTHONPATH=. $(BIN)/pytest -p tests.no_ray tests/unit

ray-library: install   ## Ray imported as a library (schemas, pickler), never started
	$(BIN)/pytest tests/ray_library

redis-tier: install    ## Lua scripts and stores on the embedded redis-server, no Ray
	$(BIN)/pytest tests/redis

api-tier: install      ## the FastAPI app in-process on the embedded Redis, no Ray or Serve
	$(BIN)/pytest tests/api

stack-tier: install    ## what needs Ray or Serve: whole stacks (`vokaflow up`), both runs at once
	$(MAKE) --keep-going --jobs=2 --output-sync=target own-stacks-then-security session-stack

own-stacks-then-security: install  ## stacks of their own, then security on a session stack
	$(SECURITY_STACK_PORTS) $(BIN)/pytest $(OWN_STACKS_THEN_SECURITY)

session-stack: install test-packages ## integration, the console in Chromium, then chaos, on one stack
	$(BIN)/pytest $(SESSION_STACK_TESTS)

# What the tests run beside Python, from the distribution's packages, installed when missing
# (as root), in one apt-get so that parallel tiers never race for its lock: the browser tests
# drive the distribution's Chromium (a test tool's own browser download does not work
# offline); the speech tests transcribe what espeak-ng says. Each is COMMAND:PACKAGE.
TEST_PACKAGES := chromium:chromium chromedriver:chromium-driver espeak-ng:espeak-ng

test-packages:         ## Chromium and its driver for tests/browser, espeak-ng for the speech tests
	@missing=""; for wanted in $(TEST_PACKAGES); do \
		command -v $${wanted%%:*} >/dev/null || missing="$$missing $${wanted#*:}"; done; \
	[ -z "$$missing" ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; }

integration: install test-packages
	$(BIN)/pytest tests/integration

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy vokaflow vokaflow_sdk
	$(BIN)/lint-imports

bench: bench-throughput bench-latency bench-priority bench-ratelimit  ## all four, ~6 minutes

bench-throughput: install  ## 20,000 no-op tasks: VokaFlow vs plain Ray vs Celery
	$(BIN)/python -m benchmarks.throughput

bench-latency: install     ## single submits at 1/16/64 connections vs a no-op Serve endpoint
	$(BIN)/python -m benchmarks.submit_latency

bench-priority: install    ## urgent waits under a 50,000-task BATCH backlog
	$(BIN)/python -m benchmarks.priority_sla

bench-ratelimit: install   ## admission at 3x a category's limit from 3 processes
	$(BIN)/python -m benchmarks.rate_limit_accuracy

bench-vicky: install       ## Vicky: 16 concurrent requests, batched vs batch size 1, tiny model
	$(BIN)/python -m benchmarks.vicky

bench-compare: install     ## this code against BASELINE=<commit>: batch and single-submit throughput, ABBA
	$(BIN)/python -m benchmarks.compare_code --baseline $(BASELINE)

bench-soak: install        ## 10 minutes of load with a fault every minute: nothing may be lost
	$(BIN)/python -m benchmarks.soak

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .vokaflow .pytest_cache .mypy_cache .ruff_cache
