# cached container image: a static binary on distroless/static, non-root.
#
#   docker build --build-arg COMMIT=$(git rev-parse HEAD) -t cached:dev .
#   docker run --rm -p 6379:6379 -p 9121:9121 cached:dev
#
# scripts/docker-build.sh does both and checks the running container.
# Configuration: /etc/cached/cached.conf (deploy/docker/cached.conf); mount
# another file there, or append --directive value flags to the command.

# Build stage: the same script CI runs (scripts/build-static.sh).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG COMMIT=unknown
RUN COMMIT=${COMMIT} sh scripts/build-static.sh /out/cached

# Run stage: no shell, no package manager; CA certificates and tzdata only.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cached /usr/local/bin/cached
COPY deploy/docker/cached.conf /etc/cached/cached.conf
# 65532 is distroless's "nonroot" user.
USER 65532:65532
# 6379 RESP clients, 16379 cluster gossip (port + 10000), 9121 metrics.
EXPOSE 6379 16379 9121
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/cached", "healthcheck", "/etc/cached/cached.conf"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/cached"]
CMD ["/etc/cached/cached.conf"]
