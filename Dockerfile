# Dockerfile — SerpentLog broker image (Debian 12). Stage 1 installs the
# same build packages as `./dev build` and does its release build; stage 2
# carries only the binary and the runtime libraries.
#   docker build -t serpentlog .
#   docker run -p 9092:9092 -v serpentlog-data:/var/lib/serpentlog serpentlog \
#       (add --advertised HOST:9092 so clients outside the container can connect)
# Settings: append flags, or mount a YAML file and pass --config FILE
# (flags win over the file). Metrics: --set admin.listen=0.0.0.0:9644 -p 9644:9644.
# Untested here (no docker on the build machine).

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev \
      libyaml-dev libxxhash-dev libzstd-dev liblz4-dev libsnappy-dev zlib1g-dev \
      libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# A fresh build directory: a host build/ copied in the context is ignored.
RUN cmake -S . -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang \
 && cmake --build /tmp/build --target serpentlog \
 && install -D -m 0755 /tmp/build/broker/serpentlog /out/usr/local/bin/serpentlog \
 && install -D -m 0644 serpentlog.example.yaml /out/etc/serpentlog/serpentlog.example.yaml

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libyaml-0-2 libxxhash0 libzstd1 liblz4-1 libsnappy1v5 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/serpentlog serpentlog \
 && install -d -o serpentlog -g serpentlog /var/lib/serpentlog
COPY --from=build /out/ /
USER serpentlog
WORKDIR /var/lib/serpentlog
VOLUME ["/var/lib/serpentlog"]
EXPOSE 9092
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/serpentlog", "start", "--listen", "0.0.0.0:9092", "--data-dir", "/var/lib/serpentlog"]
