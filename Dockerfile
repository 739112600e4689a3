# One image per service, from one file:  docker build --build-arg SERVICE=intake -t casework-intake .
# Multi-stage: the build stage installs the pinned dependencies and generates the gRPC code;
# the runtime stage holds only the virtualenv and the sources, and runs as a non-root user.
# Both stages use the same exact base version (the venv moves between them); the release
# pipeline adds the digest (@sha256:...) it resolved.
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.lock
COPY proto/ proto/
RUN mkdir -p /app/contracts \
    && /opt/venv/bin/python -m grpc_tools.protoc -Iproto --python_out=/app/contracts \
       --grpc_python_out=/app/contracts --descriptor_set_out=/app/contracts/casework.binpb \
       --include_imports $(find proto -name '*.proto' | sort)
COPY libs/platform/src/ /app/platform/
ARG SERVICE
RUN test -n "${SERVICE}" || (echo "build with --build-arg SERVICE=<intake|risk|referral|marac|repairs|reporting>" && exit 1)
COPY services/${SERVICE}/src/ /app/service/

FROM python:3.11.14-slim-bookworm AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="casework-${SERVICE}" \
      org.opencontainers.image.description="casework ${SERVICE} service" \
      org.opencontainers.image.licenses="Proprietary"
RUN groupadd --system --gid 10001 casework \
    && useradd --system --uid 10001 --gid casework --no-create-home --shell /usr/sbin/nologin casework
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/contracts:/app/platform:/app/service \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CASEWORK_SERVICE=${SERVICE} \
    CASEWORK_BIND_HOST=0.0.0.0 \
    CASEWORK_DATA_DIR=/var/lib/casework
USER 10001:10001
EXPOSE 50051 9100
# Kubernetes probes gRPC health natively (charts/casework); no Docker HEALTHCHECK is needed there.
# checkov:skip=CKV_DOCKER_2: Kubernetes probes the gRPC health service natively; images run only there
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"$CASEWORK_SERVICE\""]
