# The two commands users need: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint format install clean-var bench

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

install: $(BIN)/.installed

## Set up and start the product: web server, one worker and beat (Ctrl-C stops all).
run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap_demo
	@echo ""
	@echo "  Negotiator is starting at http://127.0.0.1:$(PORT)/  (log in as admin or approver; see above)"
	@echo ""
	PATH="$(abspath $(BIN)):$$PATH" NEGOTIATOR_PORT=$(PORT) $(BIN)/honcho start -f Procfile

## Set up and run the whole test suite on PostgreSQL + Redis.
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/negotiator
test: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-var:
	rm -rf var
