# The two set-up commands of the README: `make demo` (the main job, offline) and `make test`.
# Both create ./.venv on first use and install the kit into it, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# `make demo` installs only the kit and its [demo] extra; `make test` adds the test and lint stack.
DEMO_STAMP := $(VENV)/.demo
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean docs-images

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP) $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	rm -rf imagegen-demo
	$(VENV)/bin/jupyter-imagegen demo --out imagegen-demo

# A test run must leave the checkout as it found it (no tracked file rewritten, no stray file).
test: $(STAMP)
	@before="$$(git status --porcelain 2>/dev/null; git diff 2>/dev/null | cksum)"; \
	$(PY) -m pytest -q || exit $$?; \
	after="$$(git status --porcelain 2>/dev/null; git diff 2>/dev/null | cksum)"; \
	if [ "$$before" != "$$after" ]; then git status --short; \
	    echo "make test: the run changed the checkout (above)"; exit 1; fi

lint: $(STAMP)
	$(VENV)/bin/ruff check jupyter_imagegen tests benchmarks
	$(VENV)/bin/mypy
	cd js && npm ci --no-audit --no-fund --loglevel=error && npx --no-install tsc -p .

# The README's screenshots, remade by the tests that check them (a plain test run leaves them alone).
docs-images: $(STAMP)
	JUPYTER_IMAGEGEN_UPDATE_DOCS=1 $(PY) -m pytest -q tests/test_screenshot.py tests/browser/test_widget_ui.py \
		tests/browser/test_gateway_admin.py

bench: $(STAMP)
	$(PY) benchmarks/bench_client.py

clean:
	rm -rf $(VENV) .venv-lowest imagegen-demo test-artifacts
