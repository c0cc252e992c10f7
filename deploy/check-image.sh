#!/usr/bin/env bash
# Smoke test of a built image, run for real: every process of the registry in its own
# container as docker-compose.yml runs it (read-only, /tmp a tmpfs, no capabilities, no new
# privileges, `riskwatch migrate` first), against a PostgreSQL on this host, then one customer
# and one event through the gateway until the customer has a risk. Builds nothing.
#   deploy/check-image.sh [image]            (default riskwatch:0.1.0; `make image-check`)
# Host network (a daemon without a bridge works too), so the processes get ports from
# CHECK_PORT (default 18100, six in a row) and reach each other on 127.0.0.1. PostgreSQL: the
# PG* variables of createdb (default postgres@127.0.0.1:5432); a scratch database is made and
# dropped. Prints each check; exits non-zero on the first failure; cleans up either way.
set -euo pipefail

IMAGE=${1:-riskwatch:0.1.0}
PORT=${CHECK_PORT:-18100}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
RUN_ID=riskwatch-check-$$
DATABASE=${RUN_ID//-/_}
DATABASE_URL="postgresql://${PGUSER}${PGPASSWORD:+:$PGPASSWORD}@${PGHOST}:${PGPORT}/${DATABASE}"
KEY=rw_check_$(openssl rand -hex 16)
CONTAINERS=()
CREATED_DATABASE=

pass() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*" >&2; exit 1; }

cleanup() {
    local status=$?
    set +e  # clean up all of it, whatever fails here
    if ((status != 0)); then
        for name in "${CONTAINERS[@]}"; do
            echo "--- $name: $(docker inspect --format '{{.State.Status}} {{.State.Health.Status}}' "$name" 2>/dev/null)" >&2
            docker logs --tail 15 "$name" 2>&1 | sed 's/^/    /' >&2 || true
        done
    fi
    ((${#CONTAINERS[@]})) && docker rm -f "${CONTAINERS[@]}" >/dev/null 2>&1
    [[ -n $CREATED_DATABASE ]] && dropdb --if-exists "$DATABASE"
    echo "cleaned up: ${#CONTAINERS[@]} containers, database ${CREATED_DATABASE:-none}"
    exit "$status"
}
trap cleanup EXIT

# As compose runs every riskwatch container, with this host's addresses for its service names.
HARDENING=(--network host --read-only --tmpfs /tmp --cap-drop ALL
           --security-opt no-new-privileges)
in_image() { docker run --rm "${HARDENING[@]}" "$IMAGE" "$@"; }

docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "no image $IMAGE (build it first)"
uid=$(in_image id -u) || fail "the image does not run"
[[ $uid == 10001 ]] && pass "runs as uid $uid" || fail "runs as uid $uid, not 10001"
compilers=$(in_image sh -c 'for c in gcc cc g++ c++ clang make; do command -v $c; done; true') \
    || fail "the image has no sh"
[[ -z $compilers ]] && pass "no compilers (gcc, cc, g++, clang, make)" \
    || fail "compilers in the image: $compilers"

# The registry, read from the image itself, so a new process is checked without editing this.
mapfile -t APIS < <(in_image python -c \
    'from riskwatch.processes import API_APPS; print(*API_APPS, sep="\n")')
mapfile -t WORKERS < <(in_image python -c \
    'from riskwatch.processes import WORKERS
print(*(f"{w.name} {w.argument}" for w in WORKERS), sep="\n")')
((${#APIS[@]} && ${#WORKERS[@]})) || fail "no processes read from the registry"
pass "registry: APIs ${APIS[*]}; workers ${WORKERS[*]%% *}"

declare -A PORTS
for app in "${APIS[@]}"; do
    [[ -z $(ss -Hltn "sport = :$PORT") ]] || fail "port $PORT is taken (set CHECK_PORT)"
    PORTS[$app]=$PORT
    PORT=$((PORT + 1))
done
GATEWAY=http://127.0.0.1:${PORTS[gateway]}

ENVIRONMENT=(-e RISKWATCH_ENV=prod -e RISKWATCH_DATABASE_URL="$DATABASE_URL"
             -e RISKWATCH_INTERNAL_SECRET="$(openssl rand -hex 32)"
             -e RISKWATCH_AUDIT_SIGNING_KEY="$(openssl rand -base64 32)"
             -e RISKWATCH_BOOTSTRAP_API_KEY="$KEY"
             # compose binds 0.0.0.0 inside its own network; on the host's, loopback only.
             -e RISKWATCH_HOST=127.0.0.1
             -e RISKWATCH_COCKPIT_GATEWAY_URL="$GATEWAY")
for app in "${APIS[@]}"; do
    ENVIRONMENT+=(-e "RISKWATCH_${app^^}_PORT=${PORTS[$app]}")
    [[ $app != gateway ]] && ENVIRONMENT+=(-e "RISKWATCH_${app^^}_URL=http://127.0.0.1:${PORTS[$app]}")
done

createdb "$DATABASE" && CREATED_DATABASE=$DATABASE
# compose's one-shot `migrate` service.
docker run --rm "${HARDENING[@]}" "${ENVIRONMENT[@]}" "$IMAGE" riskwatch migrate >/dev/null \
    && pass "riskwatch migrate" || fail "riskwatch migrate"

start() {  # container name, then the command
    local name=$RUN_ID-$1
    shift
    CONTAINERS+=("$name")
    docker run -d --name "$name" "${HARDENING[@]}" "${ENVIRONMENT[@]}" "$IMAGE" "$@" >/dev/null
}
for app in "${APIS[@]}"; do start "$app" riskwatch serve "$app" --port "${PORTS[$app]}"; done
for worker in "${WORKERS[@]}"; do  # "<process name> <argument of riskwatch worker>"
    start "${worker% *}" riskwatch worker "${worker#* }"
done
pass "started ${#CONTAINERS[@]} containers"

# The image's own HEALTHCHECK (first probe after its 30 s interval), for every container.
started=$SECONDS
for name in "${CONTAINERS[@]}"; do
    until [[ $(docker inspect --format '{{.State.Health.Status}}' "$name") == healthy ]]; do
        [[ $(docker inspect --format '{{.State.Status}}' "$name") == running ]] \
            || fail "$name exited"
        ((SECONDS - started < 180)) || fail "$name not healthy after 180 s"
        sleep 2
    done
done
pass "all ${#CONTAINERS[@]} containers healthy after $((SECONDS - started)) s"

expect() {  # status, method, path, [body]
    local want=$1 method=$2 path=$3 got
    got=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "$GATEWAY$path" \
        -H "Authorization: Bearer $KEY" -H 'content-type: application/json' ${4:+-d "$4"})
    [[ $got == "$want" ]] && pass "$method $path -> $got" || fail "$method $path -> $got, not $want"
}
CUSTOMER=check-$$
expect 201 POST /v1/customers "{\"customer_id\": \"$CUSTOMER\", \"name\": \"Image Check GmbH\",
    \"industry\": \"wholesale\", \"country\": \"DE\", \"credit_limit\": \"150000.00\",
    \"credit_currency\": \"EUR\"}"
expect 202 POST /v1/events "{\"specversion\": \"1.0\", \"id\": \"inv-$$\",
    \"source\": \"erp/invoicing\", \"type\": \"invoice.issued\", \"subject\": \"$CUSTOMER\",
    \"data\": {\"invoice_id\": \"INV-$$\", \"amount\": \"1200.00\", \"currency\": \"EUR\",
    \"due_date\": \"2026-12-02\"}}"
# The scoring worker scores the new customer from the queue.
started=$SECONDS
until [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" \
        "$GATEWAY/v1/customers/$CUSTOMER/risk") == 200 ]]; do
    ((SECONDS - started < 60)) || fail "GET /v1/customers/$CUSTOMER/risk not 200 after 60 s"
    sleep 1
done
pass "GET /v1/customers/$CUSTOMER/risk -> 200 after $((SECONDS - started)) s"
# The web desk through the gateway: no session yet, so it sends the browser to log in.
got=$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY/ui/")
[[ $got == 303 ]] && pass "GET /ui/ -> 303" || fail "GET /ui/ -> $got, not 303"
echo "image $IMAGE: all checks passed"
