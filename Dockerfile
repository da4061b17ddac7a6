# Vigil edge gateway. Build: docker build -t vigil . ; see docker-compose.yml.
FROM node:20-bookworm-slim AS deps
# better-sqlite3 compiles its addon when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/vigil
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund

# The console (console/, served at /): built with the dev toolchain (Vite), only its static files ship.
FROM node:20-bookworm-slim AS console
WORKDIR /opt/vigil
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY console ./console
RUN npm run build:console

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/vigil
COPY --from=deps /opt/vigil/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY devices ./devices
COPY edge ./edge
COPY gateway ./gateway
COPY models ./models
COPY --from=console /opt/vigil/console/dist ./console/dist
RUN mkdir -p /var/lib/vigil && chown node /var/lib/vigil && chmod 700 /var/lib/vigil
USER node
EXPOSE 8883 8884 8080
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "require('https').get({host:'127.0.0.1',port:8080,path:'/readyz',rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
# A 64 MiB young generation: the pipeline allocates per message; with the default, scavenges took ~20 % of the CPU (bench/README.md).
CMD ["node", "--max-semi-space-size=64", "--import", "tsx", "gateway/main.ts"]
