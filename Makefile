# gearproto developer commands. Each target creates .venv on first use, so a fresh
# machine with only Python 3 needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test test-fast coverage lint docs bench clean

$(STAMP): pyproject.toml setup.py gearproto/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e . --group dev
	touch $(STAMP)

## Run the job server on port 4730 with its embedded SQLite queue (gearproto.sqlite).
serve: $(STAMP)
	$(BIN)/gearproto-server --port 4730 --queue-type sqlite --sqlite-db gearproto.sqlite

## Run the whole test suite, then check gearproto/ is at 100 % branch coverage.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)
	$(MAKE) --no-print-directory coverage

# gearproto's tests run twice, with its compiled speedups and as pure Python; the two
# runs together must cover every branch. Without the speedups (no C compiler) the gate
# cannot be met: it is skipped with a notice, or fails if REQUIRE_SPEEDUPS is set (CI).
coverage: $(STAMP)
	@if ! $(BIN)/python -c "import gearproto._speedups" 2>/dev/null; then \
		echo "coverage gate skipped: gearproto._speedups is not built" \
			"(install gcc and python3-dev, then: make clean test)"; \
		test -z "$(REQUIRE_SPEEDUPS)"; \
	else \
		$(BIN)/python -m coverage erase && \
		$(BIN)/python -m coverage run -p -m pytest -q tests/gearproto && \
		GEARPROTO_NO_EXTENSIONS=1 $(BIN)/python -m coverage run -p -m pytest -q tests/gearproto && \
		$(BIN)/python -m coverage combine -q && \
		$(BIN)/python -m coverage report --fail-under=100; \
	fi

## mypy --strict, ruff check and ruff format --check.
lint: $(STAMP)
	$(BIN)/python -m mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Build the docs; any warning is an error.
docs: $(STAMP)
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

## Run every benchmark side by side with gearmand and print the ratios.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) docs/_build .coverage .mypy_cache .ruff_cache build gearproto/*.so
