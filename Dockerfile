# Build:  docker build -t lenta .
# Run:    docker run -p 8080:8080 -v lenta-data:/data lenta serve --demo
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml askama.toml ./
COPY templates templates
COPY src src
COPY data data
COPY benches benches
RUN cargo build --release --locked --bin lenta

FROM debian:bookworm-slim
RUN useradd --system --home /data --shell /usr/sbin/nologin lenta \
    && mkdir -p /data && chown lenta:lenta /data
COPY --from=build /src/target/release/lenta /usr/local/bin/lenta
USER lenta
ENV LENTA_ADDR=0.0.0.0:8080 \
    LENTA_DATA_DIR=/data \
    LENTA_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/lenta"]
CMD ["serve"]
