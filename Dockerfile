# syntax=docker/dockerfile:1
# Lookout: build with dev dependencies, run with production ones only, as a non-root user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The image already has Node 24: the npm `node` package (for machines with an older Node) is not needed.
RUN npm ci --omit=dev --no-audit --no-fund && rm -rf node_modules/node node_modules/.bin/node

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 8787
# Telemetry starts before the service is imported: dist/cli.js registers the loader hooks and the SDK first.
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["--host", "0.0.0.0"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LOOKOUT_PORT||8787)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
