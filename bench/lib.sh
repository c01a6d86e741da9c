# Shared set-up for the bench/*.sh scripts (sourced, not run).
# bench_init TOOL...  checks the tools, builds the release node, and sets $bin, $work and $pids
#                     (every pid added to $pids is killed, and $work removed, on exit).
# post_lua BYTES      writes $work/post.lua: a wrk script POSTing a BYTES-long text body.
# free_port           prints a free loopback TCP port.

bench_init() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "needs $tool (run scripts/setup.sh)"; exit 1; }
  done
  cargo build --release -p p2pfaas-node >&2
  bin=${CARGO_TARGET_DIR:-target}/release/p2pfaas-node
  work=$(mktemp -d)
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}

post_lua() {
  body=$(head -c "$1" /dev/zero | tr '\0' 'x')
  cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "text/plain"
LUA
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
