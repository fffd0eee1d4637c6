# Task runner. `make demo` and `make test` set everything up themselves on a machine with python3 and npm.
# The interpreter minor version the tests run on; patterns/defaults.py's Lambda runtime must match it.
PYTHON_VERSION := 3.13
# python3.13 on PATH if it runs (a pyenv shim may not), else pyenv's 3.13, else python3 with a warning.
ifndef PYTHON
PYTHON := $(shell \
  if python$(PYTHON_VERSION) -c '' >/dev/null 2>&1; then echo python$(PYTHON_VERSION); \
  elif p=$$(pyenv prefix $(PYTHON_VERSION) 2>/dev/null) && [ -x "$$p/bin/python$(PYTHON_VERSION)" ]; \
  then echo "$$p/bin/python$(PYTHON_VERSION)"; else echo python3; fi)
endif
PYTHON_FOUND := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(PYTHON_FOUND),$(PYTHON_VERSION))
$(warning WARNING: the tests run on $(PYTHON) (Python $(PYTHON_FOUND)), not on Python $(PYTHON_VERSION), \
  which the functions declare; install python$(PYTHON_VERSION) (or pyenv's $(PYTHON_VERSION)) to match. \
  The local cloud warns once per function meanwhile.)
endif
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
CDK := PATH="$(BIN):$$PATH" npx --no-install cdk
# serve's first port (each front door takes the next), and the AWS API's port if set; not
# LocalStack's 4566, so both can run side by side.
PORT ?= 4580
AWS_PORT ?=

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: FORCE install imaging-layer chromium bundle demo serve synth test screenshots grants mutate lint format bench lock clean

install: $(VENV)/.installed node_modules/.installed ## Python venv and the pinned CDK CLI

# The venv is rebuilt from scratch when the interpreter's minor version changes (rm removes a symlink, not its target).
ifneq ($(shell cat $(VENV)/.python-version 2>/dev/null),$(PYTHON_FOUND))
$(VENV)/.installed: FORCE
endif

$(VENV)/.installed: requirements.lock
	[ "$$(cat $(VENV)/.python-version 2>/dev/null)" = "$(PYTHON_FOUND)" ] || rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	echo $(PYTHON_FOUND) > $(VENV)/.python-version
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# pub_sub's imaging layer: requirements.lock's Pillow pin as wheels for the Lambda platform of the
# functions' architecture (the house arm64 by default; IMAGING_ARCH=x86_64 for the other). pip runs here,
# against the package registry, never in a test; synth refuses to build the stack without the folder.
IMAGING_ARCH ?= arm64
IMAGING_PLATFORM_arm64 := manylinux_2_28_aarch64
IMAGING_PLATFORM_x86_64 := manylinux_2_28_x86_64
IMAGING_LAYER := .build/layers/imaging-$(IMAGING_ARCH)

imaging-layer: $(IMAGING_LAYER)/python ## pub_sub's Pillow layer for Lambda (IMAGING_ARCH=arm64|x86_64), into .build/

$(IMAGING_LAYER)/python: requirements.lock | install
	$(if $(IMAGING_PLATFORM_$(IMAGING_ARCH)),,$(error IMAGING_ARCH must be arm64 or x86_64, not $(IMAGING_ARCH)))
	rm -rf $(IMAGING_LAYER) $(IMAGING_LAYER).tmp
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --only-binary=:all: --implementation cp \
		--python-version $(PYTHON_VERSION) --platform $(IMAGING_PLATFORM_$(IMAGING_ARCH)) \
		--target $(IMAGING_LAYER).tmp/python "$$(grep -i '^pillow==' requirements.lock)"
	mv $(IMAGING_LAYER).tmp $(IMAGING_LAYER)
	touch $@

demo: synth ## The main job, offline: every pattern's scenario traced, a summary, a sequence diagram per run in cdk.out/report/
	$(BIN)/python -m scenarios --assembly cdk.out --report cdk.out/report

serve: install imaging-layer ## Serve one pattern on localhost: make serve PATTERN=gatekeeper [PORT=4580] [AWS_PORT=4599] [WATCH=1] [LOGS=1]
	$(BIN)/python -m localcloud serve $(or $(PATTERN),simple_web_service) --port $(PORT) \
		$(if $(AWS_PORT),--aws-port $(AWS_PORT)) $(if $(WATCH),--watch) $(if $(LOGS),--logs) \
		--report cdk.out/report/serve.html

synth: install imaging-layer ## cdk synth (every stack) through the pinned CLI into cdk.out/
	$(CDK) synth --quiet

# Debian's Chromium for the browser tests: Playwright drives it and downloads no browser of its own.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The secured SPA's page: esbuild (pinned in package-lock.json) bundles amazon-cognito-identity-js into
# .build/web/secured_spa/, git-ignored; rebuilt when a source or the lock file changed (synth does it too).
bundle: install
	$(BIN)/python -c "from patterns.secured_spa import bundle; bundle()"

test: install imaging-layer chromium bundle ## Lint, then the whole test suite, on every core (a test file stays on one worker)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n auto --dist loadfile

screenshots: install chromium bundle ## Each single page app's docs image (docs/patterns/img/<id>.png), served offline, shot in Chromium
	$(BIN)/python -m tests.browser.screenshots

grants: install imaging-layer ## Least privilege: each granted IAM action removed alone must make a scenario fail
	$(BIN)/python -m benchmarks.grant_mutation

mutate: install ## Mutation score of the handlers and the local cloud's semantic modules (cached, resumable)
	nice -n 19 $(BIN)/python -m benchmarks.mutate --workers 2 --markdown docs/benchmarks.md $(MODULES)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install imaging-layer ## Synth, cold-start, asset-size and test-suite figures into docs/benchmarks.md
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
	rm -rf $(VENV) node_modules cdk.out .build .pytest_cache .ruff_cache

FORCE:
