# Everything runs from a project-local virtual environment built from uv.lock.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup test lint typecheck pytest serve bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==0.13.9

# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE, so without it every process
# (each `ocppd serve` a test starts) compiled the dependencies again: 2.7 s -> 1.0 s to import.
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

setup: $(VENV)/.synced

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: setup
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy bench

# Two workers (pytest-xdist), one per core of the machine and of CI: much of the suite waits on
# sockets, PostgreSQL and real timers, and each test has its own port, schema and files.
pytest: setup
	$(VENV)/bin/pytest -n 2

test: lint typecheck pytest

# `make serve PORT=9100` (or OCPPD_PORT=9100): another port. The data directory is ocppd's
# default, the one every `ocppd` command uses: $$XDG_DATA_HOME/ocppd, else ~/.local/share/ocppd.
serve: setup
	$(VENV)/bin/ocppd serve --registration open $(if $(PORT),--port $(PORT))

bench: setup
	$(VENV)/bin/python bench/protocol.py

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
