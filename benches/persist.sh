#!/bin/bash
# Measures SAVE, BGSAVE (and the slowest PING during it) and the load at start for the
# 1M-key data set of benches/persist_gen.py, on a release build:
#   cargo build --release && bash benches/persist.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate}
DATA=$(mktemp /tmp/tollgate-persist-XXXX.resp)
python3 "$ROOT/benches/persist_gen.py" "$DATA"
D=$(mktemp -d /tmp/tollgate-measure-XXXX)
PORT=${PORT:-17391}
$BIN --port $PORT --dir $D --save "" --loglevel info 2> $D/log1 &
PID=$!
sleep 1
redis-cli -p $PORT --pipe < "$DATA" | tail -1
redis-cli -p $PORT dbsize
redis-cli -p $PORT info memory | grep used_memory:
for i in 1 2 3; do
  s=$(date +%s%N); redis-cli -p $PORT save >/dev/null; e=$(date +%s%N); echo "SAVE wall ms: $(( (e-s)/1000000 ))"
done
redis-cli -p $PORT bgsave
# PINGs during the BGSAVE: the slowest answer
python3 - $PORT <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
worst = 0; n = 0; t0 = time.time()
while time.time() - t0 < 3:
    a = time.perf_counter(); s.sendall(b"PING\r\n"); s.recv(64); d = time.perf_counter() - a
    worst = max(worst, d); n += 1
print(f"PING during BGSAVE: {n} answered, slowest {worst*1000:.1f} ms")
PY
sleep 1
grep "DB saved" $D/log1 | sed 's/.*DB saved/DB saved/' | tail -4
ls -la $D/tollgate.snapshot
redis-cli -p $PORT shutdown nosave
wait $PID
for i in 1 2 3; do
  s=$(date +%s%N)
  $BIN --port $PORT --dir $D --save "" --loglevel info 2> $D/log2 &
  PID=$!
  until redis-cli -p $PORT ping >/dev/null 2>&1; do sleep 0.01; done
  e=$(date +%s%N); echo "start to first PONG ms: $(( (e-s)/1000000 ))"
  grep "DB loaded" $D/log2 | sed 's/.*DB loaded/DB loaded/'
  redis-cli -p $PORT dbsize
  redis-cli -p $PORT shutdown nosave; wait $PID
done
rm -rf "$D" "$DATA"
