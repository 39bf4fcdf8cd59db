# Kura: two commands on a fresh machine.
#   make demo   set up, index the sample corpus, answer an English and a Japanese question, start the web chat
#   make test   set up and run the test suite (what CI runs, through .ci/run)

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export KURA_DATA_DIR ?= data

.PHONY: demo test install bench clean

$(BIN)/kura: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# Pinned CPU build first: an unpinned torch would pull several GB of CUDA packages.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	# The int8 embedding model, compiled once per machine into ~/.cache/kura (about a minute), and the term tables
	# parsed into ~/.cache/kura/tables: no export or parsing at ask time.
	$(BIN)/kura embedder prepare
	# An editable install leaves Kura's own modules uncompiled; under PYTHONDONTWRITEBYTECODE or in a read-only checkout
	# every ask would compile them again (~0.1 s of a cold ask): compile them once here.
	$(BIN)/python -m compileall -q core ingest retrieval chat bots eval
	touch $(BIN)/kura

install: $(BIN)/kura

demo: install
	$(BIN)/kura ingest
	$(BIN)/kura ask "Who has to approve an expense report over 50,000 yen?"
	$(BIN)/kura ask "経費精算申請書はいつまでに提出する必要がありますか？"
	@echo
	@echo "Web chat: open http://127.0.0.1:8000 (Ctrl-C to stop)"
	$(BIN)/kura serve

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/retrieval.py

clean:
	rm -rf $(VENV) data .pytest_cache
