# Task runner. `make demo` and `make test` set everything up themselves on a machine with python3 and npm.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
CDK := PATH="$(BIN):$$PATH" npx --no-install cdk
# serve's first port (each front door takes the next), and the AWS API's port if set; not
# LocalStack's 4566, so both can run side by side.
PORT ?= 4580
AWS_PORT ?=

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: install demo serve synth test grants mutate lint format bench lock clean

install: $(VENV)/.installed node_modules/.installed ## Python venv and the pinned CDK CLI

$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: synth ## The main job, offline: every pattern's scenario traced, a summary, a sequence diagram per run in cdk.out/report/
	$(BIN)/python -m scenarios --assembly cdk.out --report cdk.out/report

serve: install ## Serve one pattern on localhost: make serve PATTERN=gatekeeper [PORT=4580] [AWS_PORT=4599] [WATCH=1] [LOGS=1]
	$(BIN)/python -m localcloud serve $(or $(PATTERN),simple_web_service) --port $(PORT) \
		$(if $(AWS_PORT),--aws-port $(AWS_PORT)) $(if $(WATCH),--watch) $(if $(LOGS),--logs) \
		--report cdk.out/report/serve.html

synth: install ## cdk synth (every stack) through the pinned CLI into cdk.out/
	$(CDK) synth --quiet

test: install ## Lint, then the whole test suite, on every core (a test file stays on one worker)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n auto --dist loadfile

grants: install ## Least privilege: each granted IAM action removed alone must make a scenario fail
	$(BIN)/python -m benchmarks.grant_mutation

mutate: install ## Mutation score of the handlers and the local cloud's semantic modules (cached, resumable)
	nice -n 19 $(BIN)/python -m benchmarks.mutate --workers 2 --markdown docs/benchmarks.md $(MODULES)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## Synth, cold-start, asset-size and test-suite figures into docs/benchmarks.md
	$(BIN)/python benchmarks/bench.py --markdown docs/benchmarks.md

lock: ## Re-pin every Python package from the direct pins in pyproject.toml
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet $$($(PYTHON) -c "import tomllib; \
	p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	print(' '.join(p['dependencies'] + p['optional-dependencies']['dev']))")
	{ echo "# Every Python package, pinned; generated from pyproject.toml by \`make lock\`. Do not edit by hand."; \
	  .lock-venv/bin/python -m pip freeze; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .ruff_cache
