# The mlox tracking server as a container image.
#
#   docker build -t mlox .
#   docker run -p 5000:5000 -v mlox-data:/data mlox
#
# Stage 1 builds the binary (Rust + Node.js for the web UI); stage 2 is a slim Debian
# with that one file, run as an unprivileged user. SQLite store and artifacts live in
# the /data volume unless MLFLOW_BACKEND_STORE_URI / MLFLOW_ARTIFACTS_DESTINATION point
# elsewhere (see deploy/ for PostgreSQL + S3 with two replicas).

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p mlox-cli \
 && install -m 0755 target/release/mlox /usr/local/bin/mlox

FROM debian:bookworm-slim
# CA certificates for S3 / GCS / Azure over TLS; nothing else is needed at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home mlox \
 && mkdir -p /data \
 && chown mlox:mlox /data
COPY --from=build /usr/local/bin/mlox /usr/local/bin/mlox
ENV MLFLOW_HOST=0.0.0.0 \
    MLFLOW_PORT=5000 \
    MLFLOW_BACKEND_STORE_URI=sqlite:////data/mlox.db \
    MLFLOW_ARTIFACTS_DESTINATION=/data/artifacts
VOLUME /data
WORKDIR /data
EXPOSE 5000
USER mlox
# No curl in the image: bash's /dev/tcp asks /health (under MLFLOW_STATIC_PREFIX if set).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${MLFLOW_PORT} && printf 'GET %s/health HTTP/1.0\\r\\n\\r\\n' \"${MLFLOW_STATIC_PREFIX:-}\" >&3 && head -n 1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["mlox"]
CMD ["server"]
