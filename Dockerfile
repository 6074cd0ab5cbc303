# exectrail audit-processor. Multi-stage: build with dev dependencies, run with production ones only.
# Node 20, the oldest line package.json's engines (>=20.19) accept and what the CI machines run, so the
# image runs what the tests ran.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY src ./src
COPY scripts ./scripts
RUN npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
# The embedded database (only used without DATABASE_URL) lives on a volume: the root filesystem may be
# read-only. The directory exists and belongs to the runtime user before VOLUME, so a fresh volume gets
# that owner (Docker copies the image's directory into it) and the processor can write there.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# node as PID 1 would ignore SIGTERM's default action; the processor installs its own handlers and exits
# cleanly, and `init: true` / tini is not needed because it spawns no children.
ENTRYPOINT ["node", "/app/dist/cmd/audit-processor.js"]
CMD ["-data-dir=/data", "-enable-webhook", "-webhook-port=8444", "-http-port=8080"]
EXPOSE 8444 8080
