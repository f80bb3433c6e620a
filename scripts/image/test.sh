#!/usr/bin/env bash
# `make image-test`: build the gateway image from the real Dockerfile and run it the way a user would.
#
#   1. tools (mmdebstrap, buildah) from Debian; a Debian bookworm base image (python3 3.11), cached
#   2. buildah bud --isolation chroot of deploy/docker/Dockerfile with that base (no daemon, no OCI runtime)
#   3. two `thinkgate sim` backends from the image (compose's sim services) and Redis, on free loopback ports
#   4. the image's own ENTRYPOINT + CMD as its own (non-root) user, with deploy/policy.yaml pointed at them
#      (`buildah run --isolation chroot`: the host's network, so loopback ports are shared; no OCI runtime)
#   5. /health, /ready, a `model: auto` chat completion (decision headers), a stream, /metrics
# Everything it starts is stopped and removed on the way out, failed or not. The built image stays (it is the
# layer cache of the next run). Prints the image size, the build time and the start-up time.
#
# Env: THINKGATE_IMAGE (tag, default localhost/thinkgate/gateway:image-test), THINKGATE_DOCKERFILE.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
SMOKE=scripts/image/smoke.py
IMAGE=${THINKGATE_IMAGE:-localhost/thinkgate/gateway:image-test}
DOCKERFILE=${THINKGATE_DOCKERFILE:-deploy/docker/Dockerfile}
say() { echo "== image-test: $*" >&2; }

bash scripts/image/ensure_tools.sh
bash scripts/ensure_redis.sh
base=$(bash scripts/image/base.sh)

# --- build -----------------------------------------------------------------------------------------------------
build_args=(--build-arg "BASE_IMAGE=$base")
# Behind a TLS-intercepting egress proxy the build needs this machine's CA bundle to reach PyPI.
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
if [ -s "$ca" ]; then
  build_args+=(--volume "$(readlink -f "$ca"):/run/thinkgate-ca.crt:ro" --build-arg SSL_CERT_FILE=/run/thinkgate-ca.crt)
fi
say "building $IMAGE from $DOCKERFILE on $base"
start=$(date +%s)
buildah bud --isolation chroot --layers --force-rm --format docker -f "$DOCKERFILE" \
  --ignorefile deploy/docker/Dockerfile.dockerignore "${build_args[@]}" -t "$IMAGE" . >&2
build_s=$(($(date +%s) - start))
size=$(buildah images --noheading --format '{{.Size}}' "$IMAGE" | head -1)
base_size=$(buildah images --noheading --format '{{.Size}}' "$base" | head -1)

# --- run -------------------------------------------------------------------------------------------------------
work=$(mktemp -d)
pids=()
ctrs=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  for ctr in "${ctrs[@]}"; do buildah rm "$ctr" >/dev/null 2>&1 || true; done
  if [ "$rc" != 0 ] && [ -d "$work" ]; then
    for log in "$work"/*.log; do echo "--- $log (last lines)" >&2; tail -n 30 "$log" >&2 || true; done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Each process gets its own session (setsid), so cleanup can end it with everything it forked, by its id.
start_bg() { # start_bg LOG CMD...
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  pids+=("$!")
}

# A working container of the image per process (each `buildah run` needs its own).
new_ctr() { # new_ctr NAME -> sets $ctr
  ctr=$(buildah from --name "thinkgate-image-test-$1-$$" "$IMAGE")
  ctrs+=("$ctr")
}

mapfile -t ports < <($PY $SMOKE ports 4)
sim_thinking=${ports[0]} sim_instruct=${ports[1]} redis_port=${ports[2]} gw_port=${ports[3]}
start_bg "$work/redis.log" redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no
for sim in sim-thinking sim-instruct; do
  port=$sim_thinking
  if [ "$sim" = sim-instruct ]; then port=$sim_instruct; fi
  mapfile -t argv < <($PY $SMOKE sim-argv "$sim" "$port")
  new_ctr "$sim"
  start_bg "$work/$sim.log" buildah run --isolation chroot "$ctr" -- "${argv[@]}"
done
$PY $SMOKE policy "$work/policy.yaml" \
  "vllm-thinking:8000=http://127.0.0.1:$sim_thinking" "vllm-instruct:8000=http://127.0.0.1:$sim_instruct" \
  --redis "redis://127.0.0.1:$redis_port/0"

new_ctr gateway
buildah inspect --type container "$ctr" >"$work/inspect.json"
user=$($PY $SMOKE user "$work/inspect.json")
mapfile -t argv < <($PY $SMOKE serve-argv "$work/inspect.json" "$gw_port")
say "running ${argv[*]} as user ${user:-root} (image config)"
started=$(date +%s.%N)
start_bg "$work/gateway.log" buildah run --isolation chroot --env THINKGATE_HEALTH_INTERVAL=1 \
  --volume "$work/policy.yaml:/etc/thinkgate/policy.yaml:ro" "$ctr" -- "${argv[@]}"
gateway_pgid=${pids[-1]}

result=$($PY $SMOKE check "http://127.0.0.1:$gw_port" --started "$started" --watch "${pids[@]}")

# The server must run as the image's user, not root: look at the uid of the process serving.
serving_uid=$(ps -o uid=,args= -g "$gateway_pgid" | awk '/thinkgate serve/ && !/buildah/ {print $1; exit}')
image_uid=${user%%:*}
if [ -z "$serving_uid" ] || [ "$serving_uid" = 0 ] || [ "$serving_uid" != "$image_uid" ]; then
  echo "image test: the gateway runs as uid '${serving_uid}', expected the image's user $image_uid (not root)" >&2
  exit 1
fi
say "OK $result"
say "image $IMAGE: $size (base $base: $base_size); build ${build_s}s; served as uid $serving_uid"
