# ragd image: built from this repository on Debian 12 (the same packages as a
# development machine), run as an unprivileged user.
FROM debian:12.8-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc g++ make libc6-dev pkg-config libhnswlib-dev zlib1g-dev \
      libmicrohttpd-dev libjansson-dev nodejs npm ca-certificates \
      libsqlite3-dev libcmark-dev libxml2-dev libpoppler-glib-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile VERSION ./
COPY scripts scripts
COPY src src
# /dashboard's files are embedded in the binary: ours, uPlot (npm) and the
# Grafana dashboard
COPY web web
COPY monitoring/grafana/dashboards monitoring/grafana/dashboards
RUN make npm-deps build/ragd

FROM debian:12.8-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libsqlite3-0 libcmark0.30.2 libxml2 libpoppler-glib8 \
      libcurl4 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /data --create-home --shell /usr/sbin/nologin ragd
COPY --from=build /src/build/ragd /usr/local/bin/ragd
USER ragd
VOLUME /data
EXPOSE 8050
# Inside a container the service must listen beyond loopback; compose
# publishes it on the host's loopback only.
ENTRYPOINT ["/usr/local/bin/ragd"]
CMD ["serve", "--listen", "0.0.0.0:8050", "--data-dir", "/data"]
