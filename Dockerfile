# syntax=docker/dockerfile:1
# Mainspring in a container: built once with the whole toolchain, run on a
# slim image as the unprivileged `node` user, data in the /data volume.
#   docker build -t mainspring .
#   docker run -p 127.0.0.1:8090:8090 -v mainspring-data:/data mainspring
# No Docker engine runs where Mainspring is developed: the tests parse this
# file (packages/mainspring/test/containers.test.ts), never build it.

# ---- build: install exactly the lock file, which builds the server and the dashboard (the root's `prepare`),
# then keep the runtime dependencies only
FROM node:20-bookworm-slim AS build
WORKDIR /src
# native modules (better-sqlite3, sharp, bcrypt) use prebuilt binaries; the toolchain is there for when one must compile
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/ packages/
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p packages/mainspring/node_modules

# ---- run: Node, the built server package and its production dependencies
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    MS_HTTP=0.0.0.0:8090 \
    MS_DATA_DIR=/data \
    MS_HOOKS_DIR=/app/ms_hooks \
    MS_MIGRATIONS_DIR=/app/ms_migrations
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages/mainspring/package.json ./packages/mainspring/
# npm nests a dependency here when a dev tool holds the root with another major (csv-parse 4 for newman, jose for
# oidc-provider); after the prune, these are the server's own. The build stage makes the folder when nothing is nested
COPY --from=build /src/packages/mainspring/node_modules ./packages/mainspring/node_modules
COPY --from=build /src/packages/mainspring/bin ./packages/mainspring/bin
COPY --from=build /src/packages/mainspring/dist ./packages/mainspring/dist
COPY --from=build /src/packages/mainspring/dashboard ./packages/mainspring/dashboard
RUN mkdir -p /data /app/ms_hooks /app/ms_migrations && chown node:node /data
USER node
VOLUME /data
EXPOSE 8090
# asks the address serve listens on (MS_HTTP: set the port there, not with --http)
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "packages/mainspring/dist/cli/healthcheck.js"]
CMD ["node", "packages/mainspring/bin/mainspring.js", "serve"]
