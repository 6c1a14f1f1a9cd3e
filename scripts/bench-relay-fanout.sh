#!/bin/sh
# The relay's whole path, out of process: a real `arus serve` (embedded log,
# SQLite stores) with a keyless cars dataset routed, insert-only, into five
# tables (three PostgreSQL schemas, two MariaDB databases, each route its own
# column subset); `arus bench relay` posts single records from 50 keep-alive
# clients, then batches of 100 from 16, each run followed by --wait-delivered,
# while the server's CPU is profiled through --pprof-listen. Each run ends
# with the server's CPU per accepted record (from /proc, Linux), from the
# first request until every route has delivered.
#
#   go build -o arus ./cmd/arus && ARUS=./arus scripts/bench-relay-fanout.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (database test, user postgres, trust),
# MariaDB on 127.0.0.1:3306 (root, no password, database test), psql, mysql,
# curl and jq. Everything it creates is named bench<random> and dropped at the
# end; the profiles and logs stay in $OUT (default ./bench-relay-out).
set -eu
ARUS=${ARUS:-./arus}
PORT=${PORT:-18400}
PPORT=${PPORT:-18401} # PPORT=0: no profile
DURATION=${DURATION:-10s}
OUT=${OUT:-./bench-relay-out}
TAG=bench$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')
WORK=$(mktemp -d)
mkdir -p "$OUT"
PSQL="psql -q -h 127.0.0.1 -U postgres -d test -v ON_ERROR_STOP=1"
MYSQL="mysql -h 127.0.0.1 -u root"
SERVER=http://127.0.0.1:$PORT
export ARUS_SERVER=$SERVER ARUS_DATA=$WORK/data

cleanup() {
	[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
	for i in 1 2 3; do $PSQL -c "DROP SCHEMA IF EXISTS ${TAG}_pg$i CASCADE" || true; done
	for i in 1 2; do $MYSQL -e "DROP DATABASE IF EXISTS ${TAG}_my$i" || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Five tables, each with its own columns.
for i in 1 2 3; do $PSQL -c "CREATE SCHEMA ${TAG}_pg$i"; done
$PSQL -c "CREATE TABLE ${TAG}_pg1.cars (seq BIGSERIAL PRIMARY KEY, car_name TEXT, price BIGINT)"
$PSQL -c "CREATE TABLE ${TAG}_pg2.cars (seq BIGSERIAL PRIMARY KEY, id BIGINT, stock INTEGER, category TEXT)"
$PSQL -c "CREATE TABLE ${TAG}_pg3.cars (seq BIGSERIAL PRIMARY KEY, car_name TEXT, type TEXT)"
for i in 1 2; do $MYSQL -e "CREATE DATABASE ${TAG}_my$i"; done
$MYSQL -e "CREATE TABLE ${TAG}_my1.cars (seq BIGINT AUTO_INCREMENT PRIMARY KEY, id BIGINT, price BIGINT, stock INT)"
$MYSQL -e "CREATE TABLE ${TAG}_my2.cars (seq BIGINT AUTO_INCREMENT PRIMARY KEY, car_name VARCHAR(100), category VARCHAR(50))"

"$ARUS" keys create --name bench-admin --scope relay.read --scope relay.write --scope topics.read --scope groups.read >"$WORK/admin.key"
PPROF=
[ "$PPORT" != 0 ] && PPROF="--pprof-listen 127.0.0.1:$PPORT"
# shellcheck disable=SC2086
"$ARUS" serve --listen 127.0.0.1:$PORT $PPROF --log-level warn --admin-password "$TAG-admin-password" 2>"$OUT/serve.log" &
SERVE_PID=$!
for _ in $(seq 100); do curl -fs "$SERVER/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
export ARUS_API_KEY_FILE=$WORK/admin.key
"$ARUS" relay datasets create cars >/dev/null
"$ARUS" relay applications create shop --dataset cars --rate-limit 0 --format json | jq -r .api_key >"$WORK/app.key"
for i in 1 2 3; do
	"$ARUS" relay destinations create pg$i --kind postgres --host 127.0.0.1 --port 5432 --database test --user postgres \
		--no-password --option sslmode=disable --option search_path=${TAG}_pg$i >/dev/null
done
for i in 1 2; do
	"$ARUS" relay destinations create my$i --kind mysql --host 127.0.0.1 --port 3306 --database ${TAG}_my$i --user root --no-password >/dev/null
done
route() {
	r=$1
	shift
	"$ARUS" relay routes create "$r" --dataset cars --destination "$r" --table cars --mode insert "$@" >/dev/null
}
route pg1 --map car_name=car_name --map price=price
route pg2 --map id=id --map stock=stock --map category=category
route pg3 --map car_name=car_name --map type=type
route my1 --map id=id --map price=price --map stock=stock
route my2 --map car_name=car_name --map category=category

counts() {
	for i in 1 2 3; do printf 'pg%s=%s ' $i "$($PSQL -tA -c "SELECT COUNT(*) FROM ${TAG}_pg$i.cars")"; done
	for i in 1 2; do printf 'my%s=%s ' $i "$($MYSQL -N -e "SELECT COUNT(*) FROM ${TAG}_my$i.cars")"; done
	echo
}

# The server's user and system CPU so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVE_PID/stat"; }

run() {
	name=$1
	shift
	echo "== $name: $(uptime)"
	secs=${DURATION%s}
	prof=
	if [ "$PPORT" != 0 ]; then
		curl -fs -o "$OUT/cpu.$name.pprof" "http://127.0.0.1:$PPORT/debug/pprof/profile?seconds=$((secs + 5))" &
		prof=$!
	fi
	cpu0=$(cpu_ticks)
	ARUS_API_KEY_FILE=$WORK/app.key ARUS_READ_KEY_FILE=$WORK/admin.key \
		"$ARUS" bench relay --dataset cars --duration "$DURATION" --wait-delivered "$@" >"$WORK/bench.out" || {
		cat "$WORK/bench.out"
		exit 1
	}
	cat "$WORK/bench.out"
	cpu1=$(cpu_ticks)
	[ -z "$prof" ] || wait "$prof"
	echo "tables: $(counts)"
	records=$(awk '/^records:/ { gsub(",", "", $2); print $2 }' "$WORK/bench.out")
	awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="$records" \
		'BEGIN { printf "server CPU: %.2f s for %d records, %.0f us per record (load, deliveries and log included)\n", t / hz, n, n ? t / hz / n * 1e6 : 0 }'
	echo "== $name done: $(uptime)"
}
run single --mode single --concurrency 50
run batch --mode batch --batch 100 --concurrency 16
echo "profiles: $OUT/cpu.single.pprof $OUT/cpu.batch.pprof (go tool pprof -top $ARUS <profile>)"
