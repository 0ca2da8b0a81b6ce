#!/bin/sh
# Run the whole suite twice: a -Werror build, and an AddressSanitizer + UBSan
# build (LeakSanitizer on, no recovery from UB). Ends with "N passed, N failed"
# summed over both, read from meson's testlog.json (CUnit's own exit codes are
# handled in tests/testutil.h).
set -u
cd "$(dirname "$0")/.."
status=0
# A decimal-comma locale for tests/repro_test.py (Debian's locales package).
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$' && command -v localedef >/dev/null; then
    localedef -i de_DE -f UTF-8 de_DE.UTF-8 2>/dev/null || true
fi
[ -f build/build.ninja ] || meson setup build --werror >/dev/null || exit 1
meson test -C build --print-errorlogs || status=1
if [ ! -f build-asan/build.ninja ]; then
    # no MPI here: Open MPI's own start-up allocations would trip LeakSanitizer
    meson setup build-asan --werror -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fno-sanitize-recover=all -Dmpi=disabled >/dev/null || exit 1
fi
# PP_TEST_QUICK: the slowest CLI tests take a subset of their inputs here
# (the plain build above runs them all); unit tests are unaffected.
PP_TEST_QUICK=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs || status=1
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
r = [json.loads(l)["result"] for f in sys.argv[1:] for l in open(f)]
ok = sum(x in ("OK", "EXPECTEDFAIL") for x in r)
sk = r.count("SKIP")
print(f"{sk} skipped")
print(f"{ok} passed, {len(r) - ok - sk} failed")
PY
exit $status
