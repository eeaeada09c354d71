# Runs the same set-up as `npm start`: Debian's ffmpeg, Node 24 from the npm registry, the built CLI/service.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg nodejs npm ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY adapters ./adapters
COPY migrations ./migrations
COPY bench ./bench
RUN bash scripts/setup.sh
# tini reaps children and forwards signals, so ffmpeg process groups die with the container.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["bash", "scripts/launch.sh", "start"]
