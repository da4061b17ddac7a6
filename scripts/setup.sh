#!/usr/bin/env bash
# Make this checkout runnable: npm dependencies, and with --test the system
# tools the tests use (Debian's mosquitto clients for the interop tests,
# victoria-metrics as the time-series server of the forwarding tests); --bench
# adds the Mosquitto broker, a baseline of `npm run bench`.
# Idempotent and quick when nothing is missing; run by `npm start|demo|test` first.
set -euo pipefail
cd "$(dirname "$0")/.."

# onnxruntime-node's install script downloads CUDA files; the CPU provider is bundled.
export ONNXRUNTIME_NODE_INSTALL=skip

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# The console (console/, served at /): built when missing or older than its sources.
if [ ! -f console/dist/index.html ] || [ -n "$(find console/src console/index.html console/vite.config.ts package-lock.json -newer console/dist/index.html 2>/dev/null | head -1)" ]; then
  echo "setup: building the console (npm run build:console)" >&2
  npm run --silent build:console
fi

if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--bench" ]; then
  missing=()
  # Debian's Mosquitto: the central broker of the uplink tests, and the benchmark's baseline.
  [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
  command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null || missing+=(mosquitto-clients)
  # A real server speaking the InfluxDB v2 write API, for the forwarding tests (started by the tests themselves).
  command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
  # Debian's InfluxDB 1.6: its /write refuses field type conflicts, a stricter check of the line protocol.
  command -v influxd >/dev/null || missing+=(influxdb)
  # systemd-analyze checks the unit in deploy/.
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  # promtool (Prometheus) lints the /metrics exposition.
  command -v promtool >/dev/null || missing+=(prometheus)
  # libfaketime: CI proves the time-dependent suites at several hours of the day.
  command -v faketime >/dev/null || missing+=(faketime)
  # Debian's Chromium: the console's end-to-end tests (driven by playwright-core).
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "setup: installing ${missing[*]} (apt-get)" >&2
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "setup: the tests need: ${missing[*]} — install with: sudo apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
fi
