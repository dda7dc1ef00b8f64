#!/usr/bin/env bash
# Installs the npm dependencies when node_modules is missing or older than package-lock.json
# (run before `npm start` and `npm test`, so both work on a fresh clone).
set -euo pipefail
cd "$(dirname "$0")/.."
marker=node_modules/.package-lock.json
if [ ! -f "$marker" ] || [ package-lock.json -nt "$marker" ] || [ package.json -nt "$marker" ]; then
  echo "Installing npm dependencies (npm ci)…" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
