# One command each: `make demo` shows the main job, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
RUNTIME_STAMP := .runtime/.installed-stamp

.PHONY: venv runtime test unit lint demo e2e bench bench-smoke emulator reliability clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

# The Workers runtime (Miniflare's workerd) the emulator serves deployments with.
$(RUNTIME_STAMP): src/butterbase_emulator/runtime/package.json scripts/runtime-install.sh
	bash scripts/runtime-install.sh .runtime
	touch $@

runtime: $(RUNTIME_STAMP)

test: venv runtime
	$(PY) -m pytest -m "not e2e"

unit: venv
	$(PY) -m pytest tests/unit

lint: venv
	$(VENV)/bin/ruff check .

demo: venv runtime
	$(PY) scripts/demo.py

# Real Next.js build through both flows, the container under podman, and the workflow under act.
e2e: venv runtime
	bash scripts/container/setup-podman.sh
	$(PY) -m pytest -m e2e -rP

bench: venv
	$(PY) -m bench

bench-smoke: venv
	$(PY) -m bench --smoke

emulator: venv runtime
	$(VENV)/bin/butterbase-emulator

clean:
	rm -rf $(VENV) .runtime .pytest_cache .ruff_cache .butterbase-emulator

# Run the hardening suites and write their figures into docs/RELIABILITY.md.
reliability: venv runtime
	$(PY) scripts/reliability.py
