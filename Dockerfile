# syntax=docker/dockerfile:1
# One image for every hookgate process: `hookgate gateway`, `hookgate consumer`, and the operator tools.
#   docker build -t hookgate:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v $PWD/examples:/etc/hookgate:ro hookgate:0.1.0 gateway -c /etc/hookgate/gateway.yaml
# tests/deploy/test_image.py runs this file's two pip commands (the same ones, read from here) into a clean
# virtualenv and starts the services from it, since no Docker engine is at hand in CI.

# --- build: the hookgate wheel and every dependency as wheels (the only stage with a compiler, if one is needed)
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
# The build stage is thrown away, so its pip cache costs nothing in the image.
RUN python -m pip wheel --wheel-dir /wheels .

# --- runtime: no compiler, no build tools, no pip cache; a numeric non-root user
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/hookgate/bin:$PATH \
    HOME=/tmp
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/hookgate && /opt/hookgate/bin/pip install --no-cache-dir --no-index --find-links /wheels --compile hookgate
# The uid/gid the chart's securityContext names (runAsUser 10001); no home, no shell.
RUN groupadd --system --gid 10001 hookgate \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin hookgate
USER 10001:10001
WORKDIR /tmp
# Read-only root filesystem: the code is compiled at install (--compile) and nothing is written outside /tmp.
EXPOSE 8080 8081
ENTRYPOINT ["hookgate"]
CMD ["--help"]
