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
# proc_cpu_ns PID...  on-CPU nanoseconds of these processes and their children, exited threads included.
# c1_run URL PID...   one `wrk -c1` run of $secs seconds (with $wrk_args, e.g. "-s $work/post.lua"): prints
#                     "p50-µs cpu-µs-per-request", the CPU being the listed servers' (proc_cpu_ns).
# hop_rounds ROUNDS   runs every $configs entry ("name|url|server pids") with c1_run once per round, the order
#                     rotated by one config per round; prints one line per round; for every $pairs entry
#                     ("label:i:j") keeps the per-round differences config j minus config i in
#                     hop_p50[label] and hop_cpu[label] (the hop's cost with the machine's drift cancelled).
# median_range V...   "m a b n": the median of the numbers, their minimum, maximum and count.
# hop_summary LABEL   "+m µs (range +a…+b over n round(s)); CPU +m µs per request (range +a…+b)".
# tail_and_rate NAME URL  a table row "| NAME | c=1 p50 | c=1 p99 | c=32 req/s |" (wrk with $wrk_args).
# wait_listening FILE  waits up to 5 s for a server's output FILE to say "listening" (node and relay print it).
# start_relay NAME PORT TARGET-PORT  starts `p2pfaas-bench relay` (built on first use) on CPU 0 from
#                     127.0.0.1:PORT to 127.0.0.1:TARGET-PORT; sets pid_NAME (also added to $pids).
# http_function_toml PORT  prints the config of function `f` with the `http` backend calling
#                     http://127.0.0.1:PORT/ (appended to a node's config).
# function_nginx PORT [BLOCK]  starts nginx (start_nginx) with the trivial function, `return 200 "ok"`, on
#                     127.0.0.1:PORT and BLOCK beside it.
# nginx_proxy_block PORT UPSTREAM-PORT  prints an nginx `http { }` block: a server on 127.0.0.1:PORT
#                     doing `proxy_pass` to 127.0.0.1:UPSTREAM-PORT with upstream keep-alive (nginx's own hop).
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

http_function_toml() {
  printf '[functions.f]\nbackend = "http"\nurl = "http://127.0.0.1:%s/"\n' "$1"
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

nginx_proxy_block() {
  cat <<NGINX
  upstream function { server 127.0.0.1:$2; keepalive 32; }
  server {
    listen 127.0.0.1:$1;
    location / {
      proxy_pass http://function;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
NGINX
}

function_nginx() {
  start_nginx "  server {
    listen 127.0.0.1:$1;
    location / { return 200 \"ok\"; }
  }
${2:-}"
}

proc_cpu_ns() {
  # /proc/PID/stat, not schedstat: a process's utime + stime keep the time of its exited threads (a relay's
  # threads end with their connection). Clock ticks: 10 ms against seconds of CPU per run.
  local total=0 p ticks
  ticks=$(getconf CLK_TCK)
  for p in "$@" $(pgrep -P "$(tr ' ' , <<<"$*")" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $((total * 1000000000 / ticks))
}

c1_run() {
  local url=$1 before after out
  shift
  before=$(proc_cpu_ns "$@")
  # shellcheck disable=SC2086 # wrk_args holds separate words
  out=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency ${wrk_args:-} "$url")
  after=$(proc_cpu_ns "$@")
  if grep -q "Non-2xx" <<<"$out"; then echo "$url: non-2xx responses!" >&2; fi
  awk -v cpu=$((after - before)) '$1=="50%"{v=$2; if (v ~ /us$/) v+=0; else if (v ~ /ms$/) v*=1000; else v*=1000000; p=v}
    /requests in/{n=$1} END{printf "%s %.1f\n", p, cpu / 1000 / n}' <<<"$out"
}

hop_rounds() {
  local n=${#configs[@]} r k i url server_pids line pair label l f
  local -a p50s cpus
  declare -gA hop_p50=() hop_cpu=()
  for ((r = 0; r < $1; r++)); do
    p50s=() cpus=()
    for ((k = 0; k < n; k++)); do
      i=$(((k + r) % n))
      IFS='|' read -r _ url server_pids <<<"${configs[i]}"
      # shellcheck disable=SC2086 # the pids are space-separated
      read -r "p50s[i]" "cpus[i]" < <(c1_run "$url" $server_pids)
    done
    line="round $((r + 1)) (p50 µs / CPU µs per request):"
    for ((i = 0; i < n; i++)); do line+=" ${configs[i]%%|*} ${p50s[i]}/${cpus[i]};"; done
    echo "$line"
    for pair in "${pairs[@]}"; do
      IFS=: read -r label l f <<<"$pair"
      hop_p50[$label]+="$(awk -v f="${p50s[f]}" -v l="${p50s[l]}" 'BEGIN{printf "%.0f", f-l}') "
      hop_cpu[$label]+="$(awk -v f="${cpus[f]}" -v l="${cpus[l]}" 'BEGIN{printf "%.1f", f-l}') "
    done
  done
}

median_range() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2), v[1], v[NR], NR}'
}

hop_summary() {
  local m a b n cm ca cb
  # shellcheck disable=SC2086 # the differences are space-separated numbers
  read -r m a b n < <(median_range ${hop_p50[$1]})
  # shellcheck disable=SC2086
  read -r cm ca cb _ < <(median_range ${hop_cpu[$1]})
  printf '%+.0f µs (range %+.0f…%+.0f over %d round(s)); CPU %+.1f µs per request (range %+.1f…%+.1f)' \
    "$m" "$a" "$b" "$n" "$cm" "$ca" "$cb"
}

tail_and_rate() {
  local out1 out32
  # shellcheck disable=SC2086 # wrk_args holds separate words
  taskset -c 1 wrk -t1 -c32 -d1s ${wrk_args:-} "$2" > /dev/null
  # shellcheck disable=SC2086
  out1=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency ${wrk_args:-} "$2")
  # shellcheck disable=SC2086
  out32=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency ${wrk_args:-} "$2")
  if grep -q "Non-2xx" <<<"$out1$out32"; then echo "$1: non-2xx responses!" >&2; fi
  printf '| %s | %s | %s | %s |\n' "$1" "$(awk '$1=="50%"{print $2}' <<<"$out1")" \
    "$(awk '$1=="99%"{print $2}' <<<"$out1")" "$(awk '/^Requests\/sec/{print $2}' <<<"$out32")"
}

wait_listening() {
  for _ in $(seq 100); do grep -qs '^listening' "$1" && return; sleep 0.05; done
}

start_relay() {
  if [ -z "${relay_bin:-}" ]; then
    cargo build --release -p p2pfaas-bench >&2
    relay_bin=${CARGO_TARGET_DIR:-target}/release/p2pfaas-bench
  fi
  taskset -c 0 "$relay_bin" relay --listen "127.0.0.1:$2" --to "127.0.0.1:$3" > "$work/$1.out" 2>&1 &
  pids+=("$!")
  printf -v "pid_$1" %s "$!"
  wait_listening "$work/$1.out"
}
