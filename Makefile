# The platform's commands. `make demo` and `make test` work on a fresh machine: each creates
# .venv and installs what it needs; a second run reuses it.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

.PHONY: demo test lint format bench run up worker trading-worker beat clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

$(VENV)/.bench: requirements.txt requirements-dev.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@ $(VENV)/.dev $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(MANAGE) migrate --no-input -v 0
	$(MANAGE) operator_login
	$(MANAGE) ingest --provider synthetic --sample-universe --symbols SPY --years 10 --timeframe 1d --seed 7
	$(MANAGE) data_quality
	$(MANAGE) backtest --config configs/strategies/momentum_v1.yaml --symbols AAA
	$(MANAGE) backtest --config configs/strategies/mean_reversion_v1.yaml --symbols AAA
	$(MANAGE) backtest --config configs/strategies/iron_condor_v1.yaml --symbols SPY --start 2025-01-01 \
		--initial-capital 250000
	$(MANAGE) walkforward --strategy momentum --symbols AAA --in-sample-days 504 --out-of-sample-days 126 \
		--step-days 126 --grid fast=5:20:5 --grid slow=30:90:30 --objective sharpe --min-trades 3
	$(MANAGE) train --model lightgbm --feature-set default --label fixed:5:0.02 --symbols AAA,BBB,CCC,DDD,EEE \
		--cv purged-kfold:5 --embargo 5 | tee var/demo-model.txt
	model=$$(sed -n 's/^model #\([0-9]*\) .*/\1/p' var/demo-model.txt) && \
	$(MANAGE) backtest --strategy ml_classifier --param model=$$model --param threshold=0.5 --symbols AAA && \
	$(MANAGE) walkforward --strategy ml_classifier --param model=$$model --symbols AAA --in-sample-days 756 \
		--out-of-sample-days 252 --step-days 252 --grid threshold=0.5,0.55 --objective sharpe --min-trades 3
	@echo "Reports (HTML, open offline): the 'html report' lines above (ARTIFACT_STORAGE/backtests/ and walkforwards/, var/artifacts/ by default)"
	@echo "Serving the console on http://127.0.0.1:8000 (admin: /admin/, API docs: /api/docs/)"
	$(MANAGE) runserver 127.0.0.1:8000

test: lint
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.bench
	$(BIN)/python -m benchmarks.ingest
	$(BIN)/python -m benchmarks.backtest
	$(BIN)/python -m benchmarks.walkforward
	$(BIN)/python -m benchmarks.features
	$(BIN)/python -m benchmarks.options
	$(BIN)/python -m benchmarks.execution
	$(BIN)/python -m benchmarks.api

run: $(VENV)/.runtime
	$(MANAGE) migrate --no-input -v 0
	$(MANAGE) runserver 127.0.0.1:8000

# The Procfile's processes (gunicorn, the workers, beat) run with honcho against PostgreSQL and Redis:
# the local ones unless the environment names others.
up worker trading-worker beat: export DATABASE_URL ?= postgres://root@127.0.0.1:5432/quant
up worker trading-worker beat: export REDIS_URL ?= redis://127.0.0.1:6379/0
up worker trading-worker beat: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/1
HONCHO := PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho

up: $(VENV)/.runtime
	$(MANAGE) migrate --no-input -v 0
	$(MANAGE) collectstatic --no-input -v 0
	$(HONCHO) start

worker: $(VENV)/.runtime
	$(HONCHO) start worker

# Trading sessions: each paper or live strategy version's session holds a thread for as long as it
# trades (SESSIONS of them at most, 16 unless set), waiting on the event bus for new bars.
trading-worker: $(VENV)/.runtime
	$(HONCHO) start trading

beat: $(VENV)/.runtime
	$(HONCHO) start beat

clean:
	rm -rf $(VENV) var
