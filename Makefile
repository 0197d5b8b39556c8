# The two commands users need: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# pytest processes for `make test` (pytest-xdist): one per core; 1 runs them in one.
TEST_PROCESSES ?= auto

.PHONY: run test lint format install install-dev banner clean-var screenshots

# Runtime packages only: what `make run` and a production host need.
$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

# Runtime plus test and lint tools: what `make test` needs.
$(BIN)/.installed-dev: requirements-dev.txt $(BIN)/.installed
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

## Set up and start the product with demo data: web server (gunicorn), one
## worker and beat; the URL and demo logins are printed once the server answers;
## Ctrl-C stops everything and exits 0.
run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py bootstrap_demo --reset-passwords
	$(BIN)/python manage.py collectstatic --noinput -v0
	PATH="$(abspath $(BIN)):$$PATH" NEGOTIATOR_PORT=$(PORT) $(BIN)/python manage.py run_local --port $(PORT)

## Print the URL and demo logins again (while `make run` runs in another terminal).
banner: $(BIN)/.installed
	@$(BIN)/python manage.py run_local --port $(PORT) --banner-only

## Set up and run the whole test suite on PostgreSQL + Redis.
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/negotiator
test: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
test: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile

## A screenshot tour of every page, desktop (1280 px) and phone (390 x 844), into
## test-artifacts/screenshots/ (Debian's Chromium; the same run asserts that no page
## scrolls sideways on a phone).
screenshots: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/negotiator
screenshots: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
screenshots: $(BIN)/.installed-dev
	NEGOTIATOR_SCREENSHOTS=$(abspath test-artifacts/screenshots) NEGOTIATOR_BROWSER=required \
		$(BIN)/pytest -q -p no:cacheprovider tests/browser/test_pages_tour_browser.py -k every_page
	@echo "screenshots: test-artifacts/screenshots/"

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-var:
	rm -rf var
