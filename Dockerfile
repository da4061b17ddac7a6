# Vigil edge gateway. Build: docker build -t vigil . ; see docker-compose.yml.
FROM node:20-bookworm-slim
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /opt/vigil
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY devices ./devices
COPY edge ./edge
COPY gateway ./gateway
COPY models ./models
COPY tsconfig.json ./
USER node
EXPOSE 1883 8083 8080
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "gateway/main.ts"]
