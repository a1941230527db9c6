#!/usr/bin/env bash
# Adds the pgvector extension to a local Debian/Ubuntu PostgreSQL server (the external-database
# path; the embedded default ships it). Uses the distribution's package where there is one
# (postgresql-N-pgvector); otherwise builds Debian's pgvector source, checksum-verified.
# Usage: scripts/install_pgvector.sh [major version, default: the newest installed server]
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

major="${1:-$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)}"
if [ -z "$major" ]; then
  echo "No PostgreSQL server under /usr/lib/postgresql; nothing to do." >&2
  exit 1
fi
if [ -f "/usr/share/postgresql/$major/extension/vector.control" ]; then
  echo "pgvector is already installed for PostgreSQL $major."
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if as_root apt-get install -y -q "postgresql-$major-pgvector" 2>/dev/null; then
  exit 0
fi

VERSION=0.8.0
SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
URL="http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_${VERSION}.orig.tar.gz"
echo "==> No postgresql-$major-pgvector package here: building pgvector $VERSION from Debian's source"
as_root apt-get install -y -q --no-install-recommends "postgresql-server-dev-$major" build-essential curl
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
curl -fsSL "$URL" -o "$work/pgvector.tar.gz"
echo "$SHA256  $work/pgvector.tar.gz" | sha256sum -c -
tar -xzf "$work/pgvector.tar.gz" -C "$work"
pg_config="/usr/lib/postgresql/$major/bin/pg_config"
# OPTFLAGS="": the binary must run on any x86-64 host, not only this one's CPU.
make -s -C "$work/pgvector-$VERSION" PG_CONFIG="$pg_config" OPTFLAGS=""
as_root make -s -C "$work/pgvector-$VERSION" PG_CONFIG="$pg_config" install
echo "pgvector $VERSION installed for PostgreSQL $major; run migrate to create the extension."
