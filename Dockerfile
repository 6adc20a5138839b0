# syntax=docker/dockerfile:1
# DataTasker image: one image for the user-code gRPC server, the webserver and
# the daemon (docker-compose.yml picks the process with `command:`).
ARG UV_VERSION=0.13.9
FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM python:3.11-slim

COPY --from=uv /uv /uvx /usr/local/bin/

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/dagster/venv \
    PATH=/opt/dagster/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    DATATASKER_DATA_DIR=/opt/dagster/data

WORKDIR /opt/dagster/app

# Dependencies first (cached layer), exactly as locked: uv.lock pins
# sqlalchemy<2.1 + psycopg2-binary, which dagster-postgres needs.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself.
COPY datatasker_pipeline ./datatasker_pipeline
COPY deploy ./deploy
RUN uv sync --frozen --no-dev \
 && mkdir -p "$DAGSTER_HOME" /opt/dagster/deploy \
             "$DATATASKER_DATA_DIR/incoming" "$DATATASKER_DATA_DIR/outputs" \
 && cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml" \
 && cp deploy/workspace.yaml /opt/dagster/deploy/workspace.yaml

EXPOSE 4000 3000

# Default process: the user-code gRPC server (compose service `user_code`).
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "datatasker_pipeline.definitions"]
