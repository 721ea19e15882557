#!/usr/bin/env bash
# Installs what the Host and the tests need beyond the .NET SDK: the PostgreSQL server
# binaries (initdb, pg_ctl, postgres), the RabbitMQ server (the broker transport's tests), and the
# OpenAPI linters (npm). Nothing is started here: the Host and the test run start their own private
# PostgreSQL clusters and RabbitMQ node from these binaries.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_postgres; then
  echo "PostgreSQL server binaries not found; installing them (Debian/Ubuntu)..."
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# As root the clusters run as the unprivileged 'postgres' user, which the package creates.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

echo "PostgreSQL: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1 || command -v initdb)"

# RabbitMQ for the tests of the broker transport (they start a node of their own, on loopback ports).
if [ -z "${OMS_TEST_RABBITMQ_URI:-}" ] && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "RabbitMQ server not found; installing it (Debian/Ubuntu)..."
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  # The package's own service is not started: there is no init system here, and the tests run their own node.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rabbitmq-server >/dev/null
fi

# The OpenAPI linters the tests run (Spectral, Redocly), pinned in tests/openapi-lint/package-lock.json.
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix "$(dirname "$0")/../tests/openapi-lint" --no-audit --no-fund --loglevel=error
else
  echo "npm not found: install Node.js 20 and npm (Debian/Ubuntu: apt-get install nodejs npm) for the OpenAPI lint test" >&2
  exit 1
fi
