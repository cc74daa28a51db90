#!/usr/bin/env bash
# Makes sure a Redis answers on REDIS_URL's host/port (default 127.0.0.1:6379).
# Starts one (installing Debian's redis-server where missing); never touches data of a Redis it did not start.
set -euo pipefail
port="${REDIS_PORT:-6379}"

ping_redis() {
  if command -v redis-cli >/dev/null 2>&1; then
    redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG
  else
    # Without redis-cli, a raw PING over bash's /dev/tcp.
    exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
    printf 'PING\r\n' >&3
    local reply; read -r -t 2 reply <&3 || true
    exec 3>&-
    [[ "$reply" == +PONG* ]]
  fi
}

if ping_redis; then echo "redis: reachable on 127.0.0.1:$port"; exit 0; fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis: redis-server not found, installing Debian's package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi

mkdir -p /tmp/stagekeeper-ci-redis
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
  --dir /tmp/stagekeeper-ci-redis --logfile /tmp/stagekeeper-ci-redis/redis.log
for _ in $(seq 1 50); do
  if ping_redis; then echo "redis: started on 127.0.0.1:$port"; exit 0; fi
  sleep 0.2
done
echo "redis: could not start redis-server on port $port" >&2
exit 1
