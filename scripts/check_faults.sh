#!/usr/bin/env bash
# Fault injection for issue 26: runs hostile cases against the built `sightline` and prints a
# table per kind: tried, clean error (or clean success), crash, hang, data loss, stray temporary
# files. Exits non-zero when any case crashed, hung, lost data or left a temporary file.
#
#   bash scripts/check_faults.sh            # uses .build/debug/sightline (swift build first)
#   SIGHTLINE=path/to/sightline bash scripts/check_faults.sh
#
# Needs no root: full disks are a file size limit (ulimit -f, SIGXFSZ ignored, so writes fail
# with EFBIG as they fail with ENOSPC on a full disk). As root it also fills a small tmpfs
# (skipped otherwise). Hostile archives need python3 (skipped otherwise).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
SIGHTLINE=${SIGHTLINE:-$ROOT/.build/debug/sightline}
[ -x "$SIGHTLINE" ] || { echo "no $SIGHTLINE: run swift build first" >&2; exit 2; }
WORK=$(mktemp -d /tmp/sightline-faults.XXXXXX)
ERR=$(mktemp /tmp/sightline-faults-err.XXXXXX)
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
MOUNTED=""
cleanup() {
    [ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
    rm -rf "$WORK" "$ERR"
}
trap cleanup EXIT

# ---- fixtures ------------------------------------------------------------------------------
cd "$WORK"
cp "$ROOT/Tests/Fixtures/weights/resnet50_keras3.h5" m.h5
cp -r "$ROOT/Tests/Fixtures/extract" imgs
for _ in $(seq 1 300); do ls "$WORK"/imgs/*/*.png; done >long.txt
"$SIGHTLINE" extract m.h5 imgs -o f.h5 >/dev/null 2>&1
"$SIGHTLINE" train-head f.h5 -o head.h5 --epochs 5 >/dev/null 2>&1
[ -f f.h5 ] && [ -f head.h5 ] || { echo "fixtures could not be made" >&2; exit 2; }
mkdir -p prev existing_dir
IMG=$WORK/imgs/apples/apples_0.png

declare -A TRIED CLEAN CRASH HANG LOSS STRAY
KINDS=()
FAILURES=()

snapshot() { find "$WORK" -path "$TMPDIR" -prune -o -type f -print0 | sort -z | xargs -0 md5sum 2>/dev/null; }
strays() {
    find "$WORK" \( -name '.*.partial' -o -name '*.members' -o -name 'sightline-[0-9]*' \) 2>/dev/null | grep -v '\.h5\.partial$'
    find "$TMPDIR" -mindepth 1 2>/dev/null
}

# record KIND NAME STATUS STDERR CHANGED_FILES STRAY_FILES ALLOWED_STATUSES
record() {
    local kind=$1 name=$2 status=$3 err=$4 changed=$5 stray=$6 allowed=$7
    [[ -v TRIED[$kind] ]] || { KINDS+=("$kind"); TRIED[$kind]=0; CLEAN[$kind]=0; CRASH[$kind]=0; HANG[$kind]=0; LOSS[$kind]=0; STRAY[$kind]=0; }
    TRIED[$kind]=$((TRIED[$kind] + 1))
    local bad=""
    if [ "$status" = 124 ]; then
        HANG[$kind]=$((HANG[$kind] + 1)); bad="hang"
    elif { [ "$status" -gt 128 ] && [ "$status" != 130 ]; } || grep -qE 'Fatal error|Program crashed|Segmentation|Illegal instruction' <<<"$err"; then
        CRASH[$kind]=$((CRASH[$kind] + 1)); bad="crash ($status)"
    fi
    [ -n "$changed" ] && { LOSS[$kind]=$((LOSS[$kind] + 1)); bad="$bad data loss: $changed"; }
    [ -n "$stray" ] && { STRAY[$kind]=$((STRAY[$kind] + 1)); bad="$bad stray: $stray"; }
    if [ -z "$bad" ]; then
        if [[ " $allowed " == *" $status "* ]] && { [ "$status" = 0 ] || grep -q '^error: ' <<<"$err" || [ "$status" = 1 ]; }; then
            CLEAN[$kind]=$((CLEAN[$kind] + 1))
        else
            FAILURES+=("$kind: $name: status $status (expected $allowed): $(head -c 300 <<<"$err")")
        fi
    else
        FAILURES+=("$kind: $name: $bad")
    fi
}

# run_case KIND NAME ALLOWED_STATUSES PROTECTED -- COMMAND...   (PROTECTED: files that must not change; "all" for every file)
run_case() {
    local kind=$1 name=$2 allowed=$3 protect=$4
    shift 5
    local before after status err changed stray
    before=$(snapshot)
    err=$(timeout 120 "$@" 2>&1 >/dev/null); status=$?
    after=$(snapshot)
    changed=""
    if [ "$protect" = all ]; then
        changed=$(diff <(echo "$before") <(echo "$after") | grep '^<' | awk '{print $3}' | tr '\n' ' ')
    else
        for file in $protect; do
            grep -F " $WORK/$file" <<<"$before" >/dev/null || continue
            [ "$(grep -F " $WORK/$file" <<<"$before")" = "$(grep -F " $WORK/$file" <<<"$after")" ] || changed="$changed $file"
        done
    fi
    [ "$status" = 0 ] && changed=""   # a finished run may replace its own earlier output
    stray=$(strays | tr '\n' ' ')
    record "$kind" "$name" "$status" "$err" "$changed" "$stray" "$allowed"
    rm -rf "$TMPDIR"/* "$WORK"/*.partial "$WORK"/*.partial.json 2>/dev/null
}

S=$SIGHTLINE

# ---- 1. an output that is an input; outputs checked before work -----------------------------
ln -sf m.h5 link.h5
for cmd in "extract m.h5 imgs -o m.h5" "extract m.h5 imgs -o ./m.h5" "extract m.h5 imgs -o link.h5" \
    "extract m.h5 imgs -o imgs/../m.h5" "extract m.h5 imgs -o $IMG" "train-head f.h5 -o f.h5" \
    "finetune m.h5 --data imgs -o m.h5" "finetune m.h5 --data imgs -o link.h5" "convert m.h5 -o m.h5" \
    "convert m.h5 --head head.h5 -o head.h5" "merge f.h5 -o f.h5" "gradcam m.h5 $IMG -o $IMG" \
    "train-head f.h5 -o head.txt" "finetune m.h5 --data imgs -o model.txt" "finetune m.h5 --data imgs -o existing_dir" \
    "extract m.h5 imgs -o existing_dir" "convert m.h5 -o f.h5/x.h5" "convert m.h5 -o x.tflite" \
    "evaluate m.h5 --data imgs --head head.h5 --report f.h5"; do
    run_case outputs "$cmd" "2" all -- $S $cmd
done

# ---- 2. every option given NaN, inf, negative, zero and huge values ------------------------
declare -A OPTS=(
    [finetune]="--lr --head-lr --batch --epochs --head-epochs --validation-split --patience --queue --data-workers"
    [train - head]="--hidden --epochs --lr --validation-split --block-mib"
    [predict]="--batch --top" [evaluate]="--batch --top" [extract]="--batch --data-workers"
    [gradcam]="--batch --alpha --quality --top --max-channels"
)
base() {
    case $1 in
    finetune) echo "finetune m.h5 --data imgs -o out/ft.h5 --head-epochs 1 --epochs 0 --batch 4" ;;
    train-head) echo "train-head f.h5 -o out/h.h5 --epochs 3" ;;
    predict) echo "predict m.h5 $IMG" ;;
    evaluate) echo "evaluate m.h5 --data imgs" ;;
    extract) echo "extract m.h5 imgs -o out/e.h5" ;;
    gradcam) echo "gradcam m.h5 $IMG -o out/cam" ;;
    esac
}
for command in finetune "train - head" predict evaluate extract gradcam; do
    name=${command// - /-}
    for option in ${OPTS[$command]}; do
        for value in nan inf -1 0 1e30 99999999; do
            rm -rf out
            # Success is fine for a valid value (0 epochs of one phase, 0 validation); huge counts
            # stay bounded (refused, or harmless on 7 images).
            run_case options "$name $option $value" "0 1 2 3" "m.h5 f.h5 head.h5" -- $S $(base "$name") $option $value
        done
    done
done
rm -rf out

# ---- 3. NaN and divergence ---------------------------------------------------------------------
cp head.h5 prev/head.h5
run_case divergence "finetune --lr 1e30 --optimizer sgd" "3" "m.h5" -- $S finetune m.h5 --data imgs -o out/d.h5 --head-epochs 1 --epochs 1 --lr 1e30 --optimizer sgd --batch 4
if [ -f out/d.h5 ]; then
    out=$($S predict out/d.h5 "$IMG" 2>&1)
    grep -qi nan <<<"$out" && FAILURES+=("divergence: NaN model written") && LOSS[divergence]=$((LOSS[divergence] + 1))
fi
run_case divergence "train-head --lr 1e30" "3" "prev/head.h5" -- $S train-head f.h5 -o prev/head.h5 --lr 1e30 --epochs 5
run_case divergence "finetune --lr 1e6 --keep best" "3" "" -- $S finetune m.h5 --data imgs -o out/d2.h5 --head-epochs 1 --epochs 2 --lr 1e6 --optimizer sgd --batch 2
rm -rf out

# ---- 4. full disk: a file size limit (no root) -----------------------------------------------
LIMITED='trap "" XFSZ; ulimit -f "$0"; exec "$@"'   # bash -c "$LIMITED" KIB COMMAND...
writers() {
    local dir=$1
    echo "convert m.h5 -o $dir/c.h5"
    echo "convert m.h5 -o $dir/c.keras"
    echo "convert m.h5 --head head.h5 -o $dir/ch.h5"
    echo "extract m.h5 imgs -o $dir/e.h5"
    echo "train-head f.h5 -o $dir/h.h5 --epochs 3"
    echo "finetune m.h5 --data imgs -o $dir/t.h5 --head-epochs 1 --epochs 1 --batch 4"
    echo "merge f.h5 -o $dir/mg.h5"
    echo "gradcam m.h5 $IMG -o $dir/cam"
    echo "evaluate m.h5 --data imgs --report $dir/report"
}
mkdir -p lim
while read -r cmd; do $S $cmd >/dev/null 2>&1; done < <(writers lim)   # earlier outputs to protect
for kib in 1 50 200 400; do
    while read -r cmd; do
        run_case "full disk (ulimit -f)" "$kib KiB: $cmd" "0 3" all -- bash -c "$LIMITED" $kib $S $cmd
    done < <(writers lim)
done

# ---- 5. full disk: a small tmpfs (root only) --------------------------------------------------
if [ "$(id -u)" = 0 ] && mkdir -p "$WORK/full" && mount -t tmpfs -o size=3m tmpfs "$WORK/full" 2>/dev/null; then
    MOUNTED=$WORK/full
    while read -r cmd; do $S $cmd >/dev/null 2>&1; done < <(writers full)
    for free in 20 300 1200; do
        rm -f full/filler
        avail=$(df --output=avail -k full | tail -1)
        [ "$avail" -gt "$free" ] && dd if=/dev/zero of=full/filler bs=1k count=$((avail - free)) 2>/dev/null
        while read -r cmd; do
            run_case "full disk (tmpfs)" "$free KiB free: $cmd" "0 3" all -- $S $cmd
        done < <(writers full)
    done
    umount "$MOUNTED" && MOUNTED=""
else
    echo "full disk (tmpfs): skipped (needs root)" >&2
fi

# ---- 6. interrupts: at load, mid-run and at the end, SIGINT and SIGTERM; kill -9 then rerun ----
interrupt() {   # interrupt SIGNAL DELAY COMMAND...
    local signal=$1 delay=$2; shift 2
    "$@" >/dev/null 2>"$ERR" &
    local pid=$!
    sleep "$delay"
    kill -"$signal" $pid 2>/dev/null
    timeout 60 tail --pid=$pid -f /dev/null || { kill -9 $pid; return 124; }
    wait $pid 2>/dev/null
}
for cmd in "predict m.h5 long.txt" "evaluate m.h5 --data imgs" "extract m.h5 long.txt -o out/e.h5" \
    "train-head f.h5 -o out/h.h5 --epochs 3000" "finetune m.h5 --data imgs -o out/t.h5 --head-epochs 2 --epochs 2 --batch 2" \
    "gradcam m.h5 long.txt -o out/cam" "convert m.h5 -o out/c.keras" "inspect m.h5" "merge f.h5 -o out/mg.h5"; do
    for signal in INT TERM; do
        for delay in 0.1 0.5 2; do
            rm -rf out
            before=$(snapshot)
            interrupt $signal $delay $S $cmd
            status=$?
            after=$(snapshot)
            changed=$(diff <(echo "$before") <(echo "$after") | grep '^<' | awk '{print $3}' | tr '\n' ' ')
            [ "$status" = 0 ] && changed=""
            # extract and finetune keep OUT.partial / OUT.state.h5 for --resume by design.
            stray=$(strays | grep -v '/out/e\.h5\.partial' | tr '\n' ' ')
            record interrupts "$signal after ${delay}s: $cmd" "$status" "$(cat "$ERR")" "$changed" "$stray" "0 130"
            rm -rf "$TMPDIR"/*
        done
    done
done
for delay in 0.05 0.1 0.2 0.4; do
    rm -rf out
    interrupt KILL $delay $S convert m.h5 -o out/k.keras 2>/dev/null
    interrupt KILL $delay $S finetune m.h5 --data imgs -o out/k.h5 --head-epochs 1 --epochs 1 --batch 2 2>/dev/null
    # The next run removes what the killed one left.
    err=$($S convert m.h5 -o out/k.keras 2>&1 >/dev/null); status=$?
    $S finetune m.h5 --data imgs -o out/k.h5 --head-epochs 1 --epochs 1 --batch 2 >/dev/null 2>&1
    record "kill -9, then rerun" "after ${delay}s" "$status" "$err" "" "$(strays | tr '\n' ' ')" "0"
done
rm -rf out

# ---- 7. hostile archives -------------------------------------------------------------------
if command -v python3 >/dev/null; then
    python3 - "$WORK" "$ROOT/Tests/Fixtures/weights/resnet50_keras3.weights.h5" <<'PY'
import sys, zipfile
work, weights = sys.argv[1], sys.argv[2]
def make(name, members):
    with zipfile.ZipFile(f"{work}/{name}", "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
w = open(weights, "rb").read()
make("bomb.keras", {"config.json": b"{}" + b" " * (80 << 20), "model.weights.h5": w})
make("deep.keras", {"config.json": b"[" * 100000 + b"]" * 100000, "model.weights.h5": w})
make("deepdict.keras", {"config.json": b'{"a":' * 50000 + b"1" + b"}" * 50000, "model.weights.h5": w})
make("noweights.keras", {"config.json": b"{}"})
make("badjson.keras", {"config.json": b"{not json", "model.weights.h5": w})
make("badweights.keras", {"config.json": b"{}", "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 100})
PY
    for file in bomb deep deepdict noweights badjson badweights; do
        for cmd in inspect predict; do
            extra=""; [ $cmd = predict ] && extra=$IMG
            run_case archives "$cmd $file.keras" "2 3" all -- $S $cmd $file.keras $extra
        done
    done
else
    echo "archives: skipped (needs python3)" >&2
fi

# ---- the table -----------------------------------------------------------------------------
printf '\n| %-24s | %5s | %11s | %5s | %4s | %9s | %11s |\n' kind tried "clean error" crash hang "data loss" "stray temp"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..26})" "-------" "-------------" "-------" "------" "-----------" "-------------"
total=(0 0 0 0 0 0)
for kind in "${KINDS[@]}"; do
    printf '| %-24s | %5d | %11d | %5d | %4d | %9d | %11d |\n' "$kind" "${TRIED[$kind]}" "${CLEAN[$kind]}" \
        "${CRASH[$kind]}" "${HANG[$kind]}" "${LOSS[$kind]}" "${STRAY[$kind]}"
    total=($((total[0] + TRIED[$kind])) $((total[1] + CLEAN[$kind])) $((total[2] + CRASH[$kind])) \
        $((total[3] + HANG[$kind])) $((total[4] + LOSS[$kind])) $((total[5] + STRAY[$kind])))
done
printf '| %-24s | %5d | %11d | %5d | %4d | %9d | %11d |\n' total "${total[@]}"
if [ ${#FAILURES[@]} -gt 0 ]; then
    printf '\n%d case(s) not clean:\n' ${#FAILURES[@]}
    printf '  %s\n' "${FAILURES[@]}"
fi
[ $((total[2] + total[3] + total[4] + total[5])) = 0 ]
