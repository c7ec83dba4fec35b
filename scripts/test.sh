#!/usr/bin/env bash
# The whole test run: lint, rules check, then the suite twice with real parts —
# once on SQLite with in-memory limits, once on PostgreSQL with limits in Redis.
# Servers listen on 127.0.0.1 only and are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

need_packages=()
command -v chromium >/dev/null || need_packages+=(chromium)
command -v redis-server >/dev/null || need_packages+=(redis-server)
# A CJK font for the OCR tests, which render printed Chinese letters.
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need_packages+=(fonts-noto-cjk)
[ -n "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || need_packages+=(postgresql)
if [ ${#need_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${need_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_packages[@]}" >/dev/null
  else
    echo "== not root: cannot install ${need_packages[*]}; tests needing them will be skipped"
  fi
fi

echo "== ruff"
$BIN/ruff check .
echo "== routing rules"
$BIN/intake rules check

work=$(mktemp -d)
# initdb refuses to run as root: the cluster belongs to the postgres user when we are root.
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); else as_pg=(); fi
cleanup() {
  [ -n "${PGBIN:-}" ] && [ -f "$work/pg/postmaster.pid" ] && \
    (cd "$work" && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1) || true
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== pytest: SQLite, in-memory rate limits"
env -u TEST_DATABASE_URL -u REDIS_URL $BIN/pytest -q -p no:cacheprovider

PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)" 2>/dev/null || true)
if [ -z "$PGBIN" ] || ! command -v redis-server >/dev/null; then
  if [ -n "${CI:-}" ]; then echo "PostgreSQL or Redis missing in CI" >&2; exit 1; fi
  echo "== PostgreSQL or Redis not available: skipping the second run"
  exit 0
fi

pg_port=$(( 20000 + RANDOM % 20000 )); redis_port=$(( pg_port + 1 ))
chmod 755 "$work"
[ "$(id -u)" = 0 ] && chown postgres "$work"
(
  cd "$work"  # the postgres user may not enter the checkout (e.g. under /root)
  "${as_pg[@]}" "$PGBIN/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work -c fsync=off" \
    start >/dev/null
)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"

echo "== pytest: PostgreSQL on 127.0.0.1:$pg_port, rate limits in Redis on 127.0.0.1:$redis_port"
TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/postgres" \
REDIS_URL="redis://127.0.0.1:$redis_port/0" \
  $BIN/pytest -q -p no:cacheprovider
