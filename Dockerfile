# syntax=docker/dockerfile:1
# Mainspring in a container: built with the whole toolchain, run on a slim
# image as the unprivileged `node` user, data in the /data volume.
#   docker build -t mainspring .
#   docker run -p 8090:8090 -v mainspring-data:/data mainspring

# ---- build: install exactly the lock file, build the server and the dashboard, keep runtime dependencies only
FROM node:20-bookworm-slim AS build
WORKDIR /src
# native modules (better-sqlite3, sharp, bcrypt) use prebuilt binaries; the toolchain is there for when one must compile
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- run: Node, the built server package and its production dependencies
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    MS_HTTP=0.0.0.0:8090 \
    MS_DATA_DIR=/data \
    MS_HOOKS_DIR=/app/ms_hooks
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages/mainspring ./packages/mainspring
RUN mkdir -p /data /app/ms_hooks && chown node:node /data
USER node
VOLUME /data
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8090/api/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "packages/mainspring/bin/mainspring.js", "serve"]
