# Shared set-up for the bench/*.sh scripts (sourced, not run).
# bench_init TOOL...  checks the tools, builds the release node, and sets $bin, $work and $pids
#                     (every pid added to $pids is killed, and $work removed, on exit).
# post_lua BYTES      writes $work/post.lua: a wrk script POSTing a BYTES-long text body.
# free_port           prints a free loopback TCP port.
# echo_node_toml N P  writes $work/N.toml: a one-worker node serving the built-in echo on port P, with a
#                     data dir of its own (fresh on every call, under $work).
# scheduler_node_toml N P SCHED PARAMS PEERS SLOTS  writes $work/N.toml: a one-worker node on port P serving the
#                     built-in echo with scheduler SCHED(PARAMS), K = SLOTS, initial peers PEERS (a TOML list's
#                     inside), data dir $work/N (the pair of nodes the forwarding benchmarks run).
# cpu_ns PID          total on-CPU nanoseconds of a process tree (nginx: master + worker).
# start_nginx BLOCK [NAME]  starts nginx (one worker, no access log, pinned to CPU 0) with BLOCK inside
#                     `http { }`, in $work/NAME (default nginx: one more instance needs a new NAME);
#                     sets $nginx_pid (also added to $pids).

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

cpu_ns() {
  local total=0 p t
  for p in "$1" $(pgrep -P "$1" || true); do
    for t in /proc/"$p"/task/*/schedstat; do
      [ -r "$t" ] && total=$((total + $(cut -d' ' -f1 "$t")))
    done
  done
  echo "$total"
}

# Writes $work/NAME.toml: a node with one worker serving the built-in echo on 127.0.0.1:PORT (K = 4,
# Q = 64, warnings only) — the node the overhead benchmarks measure. Its data dir is new on every call
# (mktemp under $work, so removed at exit): a later run of the same NAME (the next round, or another
# config on the same driver) must not start from the state an earlier one persisted.
echo_node_toml() { # name port
  local data
  data=$(mktemp -d "$work/data-$1.XXXXXX")
  cat > "$work/$1.toml" <<TOML
[node]
listen = "127.0.0.1:$2"
data_dir = "$data"
workers = 1
blocking_threads = 1
[log]
level = "warn"
[queue]
slots = 4
queue_len = 64
[functions.echo]
backend = "builtin"
builtin = "echo"
TOML
}

scheduler_node_toml() { # name port scheduler params peers slots
  cat > "$work/$1.toml" <<TOML
[node]
listen = "127.0.0.1:$2"
data_dir = "$work/$1"
workers = 1
[log]
level = "warn"
[queue]
slots = $6
queue_len = 64
[scheduler]
name = "$3"
parameters = [$4]
[discovery]
machine_id = "$1"
init_servers = [$5]
[functions.echo]
backend = "builtin"
builtin = "echo"
TOML
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_nginx() {
  local dir=$work/${2:-nginx}
  mkdir -p "$dir/logs"
  cat > "$dir/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
$1
}
NGINX
  taskset -c 0 nginx -p "$dir" -c "$dir/nginx.conf" &
  nginx_pid=$!
  pids+=("$nginx_pid")
  sleep 0.5
}
