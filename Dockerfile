# syntax=docker/dockerfile:1
#
# One image for every dspex process: Node 20 (runtime nodes, `dspex` CLI) and Python 3.11 with the
# DSPy worker venv (`dspex-worker`). Debian bookworm's python3 is 3.11.
#
#   docker build -t dspex .
#   docker run --rm dspex --help                          # the dspex CLI (the entrypoint)
#   docker run --rm --entrypoint dspex-worker dspex --help
#
# Not built on the machine this was written on (it has no Docker engine); see docs/operations.md.

FROM node:20-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Python worker first: its dependencies change least often, so this layer is cached longest.
COPY python/requirements.lock python/requirements.lock
RUN python3 -m venv python/.venv \
 && python/.venv/bin/pip install --no-cache-dir -r python/requirements.lock
COPY python/ python/
RUN python/.venv/bin/pip install --no-cache-dir --no-deps -e python

# Node: install, compile to dist/, then drop the dev dependencies (bin/dspex.js runs dist/ when it
# exists, so tsx is not needed at run time).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build && npm prune --omit=dev --ignore-scripts
COPY bin/ bin/
COPY examples/ examples/
COPY nats.conf ./

# `dspex-worker` on PATH for hand-started workers; runtime nodes find python/.venv/bin/dspex-worker
# next to dist/ on their own.
ENV PATH=/app/python/.venv/bin:$PATH \
    NODE_ENV=production \
    LITELLM_LOCAL_MODEL_COST_MAP=True

# Nothing here writes to /app at run time.
USER node

ENTRYPOINT ["node", "/app/bin/dspex.js"]
CMD ["node"]
