# Shared helpers for scripts/test and scripts/run. Sourced, not run.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Build tools (cargo-deny, wasm-bindgen-cli, the Python venv) live outside the checkout so a
# fresh clone on the same machine reuses them; a new machine installs them once.
TOOLS="${BREEZE_TOOLS:-$HOME/.cache/breeze-tools}"
mkdir -p "$TOOLS"
export PATH="$HOME/.cargo/bin:$TOOLS/bin:$PATH"

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

_apt_updated=""
apt_install() { # apt_install PKG... : installs the Debian packages that are missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "need Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "$_apt_updated" ]; then $sudo apt-get update -qq; _apt_updated=1; fi
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

need_cmd() { # need_cmd COMMAND DEBIAN_PACKAGE : installs the package only if the command is missing
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

cargo_tool() { # cargo_tool BINARY CRATE VERSION : installs a cargo tool when missing
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 $3 (first run only)"
  cargo install "$2" --version "$3" --root "$TOOLS" >/dev/null
}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

_cleanups=()
on_exit() { local i; for ((i=${#_cleanups[@]}-1; i>=0; i--)); do eval "${_cleanups[$i]}" || true; done; }
trap on_exit EXIT

start_throwaway_postgres() { # exports DATABASE_URL
  ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
  local pgbin; pgbin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  local root; root=$(mktemp -d "${TMPDIR:-/tmp}/breeze-pg.XXXXXX")
  chown postgres:postgres "$root"; chmod 700 "$root"
  local port; port=$(free_port)
  runuser -u postgres -- "$pgbin/initdb" -D "$root/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$root/data" -l "$root/server.log" -w \
    -o "-p $port -k $root -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
  _cleanups+=("runuser -u postgres -- '$pgbin/pg_ctl' -D '$root/data' -m fast -w stop >/dev/null 2>&1; rm -rf '$root'")
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  log "started throwaway PostgreSQL on 127.0.0.1:$port"
}

start_throwaway_redis() { # exports REDIS_URL
  need_cmd redis-server redis-server
  local dir; dir=$(mktemp -d "${TMPDIR:-/tmp}/breeze-redis.XXXXXX")
  local port; port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
  _cleanups+=("kill \$(cat '$dir/redis.pid') 2>/dev/null; rm -rf '$dir'")
  export REDIS_URL="redis://127.0.0.1:$port/"
  log "started throwaway Redis on 127.0.0.1:$port"
}
