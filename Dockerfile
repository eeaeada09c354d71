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
COPY drizzle.config.ts ./
RUN VIDSHRINK_DATA_DIR=/data bash scripts/setup.sh
# The web chat listens on all interfaces inside the container; data (database, uploads, results) lives in a volume.
ENV VIDSHRINK_HOST=0.0.0.0 VIDSHRINK_PORT=8080 VIDSHRINK_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# tini reaps children and forwards signals, so ffmpeg process groups die with the container.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["bash", "scripts/launch.sh", "start"]
