# syntax=docker/dockerfile:1
#
# One image for every dspex process: runtime nodes and the `dspex` CLI (Node 20), and the DSPy worker
# (`dspex-worker`, Python 3.11: Debian bookworm's python3). Three stages; only the last one ships:
#
#   build    Node with the dev dependencies: compiles src/ to dist/ (tsconfig.build.json)
#   worker   the worker venv from python/requirements-runtime.lock (no pytest, ruff, mypy, hypothesis)
#   runtime  dist/, bin/, the production npm dependencies and the worker venv; no sources, no dev tools
#
#   docker build -t dspex .
#   docker run --rm dspex --help                          # the dspex CLI (the entrypoint)
#   docker run --rm --entrypoint dspex-worker dspex --version
#
# Not built on the machine this was written on (it has no Docker engine): test/unit/deploy/ parses this
# file and docker-compose.yml and checks what matters; see docs/operations.md.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build

FROM node:20-bookworm-slim AS worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first: they change least often, so this layer is cached longest.
COPY python/requirements-runtime.lock python/
RUN python3 -m venv python/.venv \
 && python/.venv/bin/pip install --no-cache-dir --disable-pip-version-check -r python/requirements-runtime.lock
COPY python/pyproject.toml python/README.md python/
COPY python/dspex_worker/ python/dspex_worker/
# A regular install, not an editable one: the runtime stage takes the venv without python/'s sources.
RUN python/.venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps ./python \
 && python/.venv/bin/dspex-worker --version

FROM node:20-bookworm-slim AS runtime
# python3 only (no venv module, no pip from Debian): the interpreter the worker venv points to.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/ dist/
COPY --from=worker /app/python/.venv/ python/.venv/
COPY bin/dspex.js bin/
RUN ln -s /app/bin/dspex.js /usr/local/bin/dspex

# Runtime nodes find /app/python/.venv/bin/dspex-worker on their own (the package's python/.venv);
# `dspex-worker` is on PATH for workers started by hand.
ENV PATH=/app/python/.venv/bin:$PATH \
    LITELLM_LOCAL_MODEL_COST_MAP=True

# Nothing here writes to /app at run time.
USER node

# Healthy while this node is alive as the cluster sees it: a node answers dspex.rpc.status and lists
# DSPEX_NODE_ID among the nodes it heard a heartbeat from within three periods. Needs DSPEX_NODE_ID
# and DSPEX_NATS_URL (as docker-compose.yml sets them); without DSPEX_NODE_ID it fails and says so.
HEALTHCHECK --interval=15s --timeout=10s --start-period=120s --retries=3 \
  CMD ["dspex", "status", "--node", "self", "--timeout", "5000"]

ENTRYPOINT ["dspex"]
CMD ["node"]
