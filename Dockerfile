# Kura's image: the `kura` command with everything it runs (web chat, Slack bot, re-index job).
# docker-compose.yml picks the command per service: kura serve | kura slack | kura reindex.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    KURA_DATA_DIR=/data

WORKDIR /app

# The CPU build of PyTorch first: the default wheel would pull several GB of CUDA libraries.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# Only what the package needs (tests, data and the venv stay out; see .dockerignore).
COPY pyproject.toml README.md ./
COPY core ./core
COPY ingest ./ingest
COPY retrieval ./retrieval
COPY chat ./chat
COPY bots ./bots
COPY eval ./eval
RUN pip install .

COPY deploy ./deploy
RUN useradd --system --create-home --uid 10001 kura \
    && mkdir -p /data \
    && chown kura /data
USER kura
# The int8 embedding model, compiled once into the image (~/.cache/kura): no container exports at first use.
RUN kura embedder prepare
VOLUME ["/data"]
EXPOSE 8000 3000
CMD ["kura", "serve"]
