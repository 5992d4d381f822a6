#!/bin/bash
# Log-capture benchmark for clawvisor (issue 4), same workload as ../shared/bench/:
# a child writes 1 GiB of realistic log lines (cat F F F F, F = 256 MiB from gen_logs.py)
# as fast as it can; the capturer writes files rotated every 10 MB. Cases, round-robin in
# one sitting so the ratios compare like with like:
#   pipe          cat F F F F | cat > out          (the ceiling with one pipe)
#   clawvisor     clawvisor run, child = cat F F F F, no timestamps, no compression
#   clawvisor_ts  ... with timestamps = true
#   clawvisor_gz  ... with compress = true, compress_level = 1
#   s6log / s6log_T / svlogd / svlogd_tt   peers, where installed (apt-get install s6 runit)
# Every run is checked: the captured stream (prefixes stripped, .gz files decompressed)
# must hash to the input. Prints MiB/s (median), peak RSS and the target ratios.
#
# usage: scripts/bench_logs.sh            env: RUNS=3  BENCH_DIR=/tmp/clawbench
#        CLAWVISOR=target/release/clawvisor (built with cargo build --release if absent)
set -u
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
[ -d "$SHARED" ] || SHARED=/work/shared/bench
BASE=${BENCH_DIR:-/tmp/clawbench}
RUNS=${RUNS:-3}
CLAWVISOR=${CLAWVISOR:-$ROOT/target/release/clawvisor}
CASES=${CASES:-"pipe clawvisor clawvisor_ts clawvisor_gz s6log s6log_T svlogd svlogd_tt"}
PY=/usr/bin/python3
F=$BASE/logs256.txt
SIZE=268435456
TOTAL=$((4 * SIZE))
OUT=$BASE/out
TV=$BASE/time.txt
RES=$BASE/results.tsv
mkdir -p "$BASE"
[ -x "$CLAWVISOR" ] || (cd "$ROOT" && cargo build --release --bin clawvisor) || exit 1
[ -s "$F" ] && [ "$(stat -c %s "$F")" = $SIZE ] || $PY "$SHARED/gen_logs.py" "$F" $SIZE
[ -s "$BASE/expected.txt" ] || cat $F $F $F $F | $PY "$SHARED/hashcount.py" > "$BASE/expected.txt"
EXP=$(cut -d' ' -f2 "$BASE/expected.txt")
cat $F > /dev/null
: > "$RES"

ns() { date +%s%N; }
clean() { rm -rf "$OUT"; mkdir -p "$OUT"; sync; }

# Prints the captured stream of DIR, oldest first, decompressing .gz files.
clawvisor_stream() {
  local d=$1 f
  for f in $(ls "$d" | grep -E '^gateway\.out\.[0-9]{8}T' | sed -E 's/\.log(\.gz)?$//' | sort -u); do
    if [ -e "$d/$f.log.gz" ]; then zcat "$d/$f.log.gz"; else cat "$d/$f.log"; fi
  done
  cat "$d/gateway.out.log"
}

# check STRIP: stdin is the captured stream; STRIP = prefix bytes per line to remove.
check() {
  local strip=$1 h
  if [ "$strip" -gt 0 ]; then h=$(cut -b$((strip + 1))- | $PY "$SHARED/hashcount.py" | cut -d' ' -f2)
  else h=$($PY "$SHARED/hashcount.py" | cut -d' ' -f2); fi
  [ "$h" = "$EXP" ] && echo OK || echo MISMATCH
}

clawvisor_config() { # TIMESTAMPS COMPRESS
  cat > "$OUT/clawvisor.toml" <<EOC
[gateway]
command = ["cat", "$F", "$F", "$F", "$F"]
[restart]
policy = "never"
[state]
dir = "$OUT/state"
[control]
socket = "$OUT/clawvisor.sock"
[logs]
dir = "$OUT/logs"
max_size = "10000000"
keep_files = 200
timestamps = $1
compress = $2
compress_level = 1
EOC
}

run_case() { # CASE RUN
  local c=$1 r=$2 t0 t1 ok strip=0
  clean
  case $c in
  pipe)
    t0=$(ns); cat $F $F $F $F | /usr/bin/time -v -o $TV cat > $OUT/all.log; t1=$(ns)
    ok=$(check 0 < $OUT/all.log) ;;
  clawvisor|clawvisor_ts|clawvisor_gz)
    local ts=false gz=false
    [ $c = clawvisor_ts ] && { ts=true; strip=25; }
    [ $c = clawvisor_gz ] && gz=true
    clawvisor_config $ts $gz
    t0=$(ns); /usr/bin/time -v -o $TV "$CLAWVISOR" run --config "$OUT/clawvisor.toml" 2> $OUT/clawvisor.err; t1=$(ns)
    ok=$(clawvisor_stream $OUT/logs | check $strip) ;;
  s6log|s6log_T)
    command -v s6-log > /dev/null || return
    local act=""; [ $c = s6log_T ] && { act=T; strip=31; }
    t0=$(ns); cat $F $F $F $F | /usr/bin/time -v -o $TV s6-log n200 s10000000 $act $OUT/s6; t1=$(ns)
    ok=$( (ls $OUT/s6/@* 2>/dev/null | sort | xargs -r cat; cat $OUT/s6/current) | check $strip) ;;
  svlogd|svlogd_tt)
    command -v svlogd > /dev/null || return
    local opt=""; [ $c = svlogd_tt ] && { opt=-tt; strip=26; }
    mkdir -p $OUT/sv; printf 's10000000\nn200\n' > $OUT/sv/config
    t0=$(ns); cat $F $F $F $F | /usr/bin/time -v -o $TV svlogd $opt $OUT/sv; t1=$(ns)
    ok=$( (ls $OUT/sv/@* 2>/dev/null | sort | xargs -r cat; cat $OUT/sv/current) | check $strip) ;;
  esac
  local wall rss mibps
  wall=$(awk -v a=$t0 -v b=$t1 'BEGIN{printf "%.3f", (b-a)/1e9}')
  mibps=$(awk -v w=$wall -v n=$TOTAL 'BEGIN{printf "%.1f", n/1048576/w}')
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' $TV)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' $c $r $wall $mibps $rss $ok | tee -a "$RES"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r), runs=$RUNS"
printf 'case\trun\twall_s\tMiB/s\tmaxrss_kB\tcheck\n'
for r in $(seq 1 "$RUNS"); do
  for c in $CASES; do run_case $c $r; done
done
clean
$PY - "$RES" <<'EOPY'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for c, r, wall, mibps, rss, ok in rows:
    d = by.setdefault(c, {"mibps": [], "rss": [], "ok": []})
    d["mibps"].append(float(mibps)); d["rss"].append(int(rss or 0)); d["ok"].append(ok)
med = {c: st.median(d["mibps"]) for c, d in by.items()}
print("\n| case | MiB/s (median) | runs | peak RSS MiB | checks |")
print("|---|---|---|---|---|")
for c, d in by.items():
    print(f"| {c} | {med[c]:.0f} ({min(d['mibps']):.0f}-{max(d['mibps']):.0f}) | {len(d['mibps'])} | {max(d['rss'])/1024:.1f} | {','.join(sorted(set(d['ok'])))} |")
def ratio(a, b):
    return f"{med[a]/med[b]:.2f}" if a in med and b in med else "n/a"
peers_ts = [p for p in ("s6log_T", "svlogd_tt") if p in med]
print()
print(f"clawvisor / pipe (target >= 0.90): {ratio('clawvisor', 'pipe')}")
if peers_ts:
    best = max(peers_ts, key=lambda p: med[p])
    print(f"clawvisor_ts / fastest peer with timestamps ({best}) (target >= 3): {ratio('clawvisor_ts', best)}")
print(f"clawvisor_gz / clawvisor (target >= 0.95): {ratio('clawvisor_gz', 'clawvisor')}")
if "clawvisor" in by:
    worst = max(max(by[c]["rss"]) for c in by if c.startswith("clawvisor"))
    print(f"clawvisor peak RSS (target < 32 MiB): {worst/1024:.1f} MiB")
EOPY
