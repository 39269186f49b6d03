#!/usr/bin/python3
"""Relative accuracy of recsys' F, t and chi-squared survival functions.

Runs test/core/stats_core (src/core/stats.c built outside the server) over a
grid of arguments -- degrees of freedom from 0.5 to 2e6, p-values down to
1e-300 -- and compares with mpmath at 50 significant digits (Debian
python3-mpmath).  Points mpmath cannot evaluate are skipped.  Prints one
"ok"/"not ok" line per function with its worst relative error (the bound
defaults to 1e-11) and exits non-zero on a failure; without mpmath it
prints "ok # skip".  Run by "make -C test/core check".

    make -C test/core stats_core && /usr/bin/python3 test/ref/stats_accuracy.py
"""
import os
import subprocess
import sys

try:
    import mpmath as mp
except ImportError:
    print("ok # skip stats accuracy: python3-mpmath is not installed")
    sys.exit(0)

mp.mp.dps = 50
BOUND = float(sys.argv[1]) if len(sys.argv) > 1 else 1e-11
HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(HERE, "..", "core", "stats_core")


def f_sf(x, d1, d2):
    x, d1, d2 = mp.mpf(x), mp.mpf(d1), mp.mpf(d2)
    return mp.betainc(d2 / 2, d1 / 2, 0, d2 / (d2 + d1 * x), regularized=True)


def t_sf(t, df):
    t, df = mp.mpf(t), mp.mpf(df)
    p = mp.betainc(df / 2, mp.mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
    return p if t >= 0 else 1 - p


def chi2_sf(x, df):
    return mp.gammainc(mp.mpf(df) / 2, mp.mpf(x) / 2, mp.inf, regularized=True)


cases = []


def add(fn, x, a, b, ref):
    try:
        cases.append((fn, x, a, b, ref()))
    except (ValueError, ZeroDivisionError):
        pass


for x in [0.01, 0.5, 1, 2, 3.5, 10, 40, 80, 150, 500, 5000]:
    for d1, d2 in [(1, 1), (1, 10), (2, 5), (3, 100), (5, 30), (1, 2e6), (2, 2e6),
                   (10, 1000), (0.5, 3.3), (50, 50), (200, 1e5)]:
        add("f", x, d1, d2, lambda: f_sf(x, d1, d2))
for t in [-5, -1, 0, 0.3, 1, 2.5, 5, 10, 30, 100, 1e3]:
    for df in [1, 2, 3.7, 10, 30, 100, 1000, 1e5, 2e6]:
        add("t", t, df, 0, lambda: t_sf(t, df))
for x in [0.001, 0.5, 1, 3, 10, 50, 100, 150, 300, 1000, 1300]:
    for df in [1, 2, 3, 5, 10, 50, 99, 500, 2000, 1e5]:
        add("chi2", x, df, 0, lambda: chi2_sf(x, df))

inp = "\n".join("%s %r %r %r" % c[:4] for c in cases)
out = subprocess.run([CORE], input=inp, capture_output=True, text=True, check=True).stdout.split()
worst = {}
for c, o in zip(cases, out):
    ref = c[4]
    if ref < mp.mpf("1e-300"):
        continue
    r = float(abs(mp.mpf(o) / ref - 1))
    if r > worst.get(c[0], (0, None))[0]:
        worst[c[0]] = (r, c[:4], float(ref))
fail = False
for fn in sorted(worst):
    r, c, ref = worst[fn]
    n = sum(1 for x in cases if x[0] == fn)
    print("%s - %s_sf: %d points, worst relative error %.2e <= %.0e at %s (p = %.3e)"
          % ("ok" if r <= BOUND else "not ok", fn, n, r, BOUND, c[1:], ref))
    fail |= r > BOUND
sys.exit(1 if fail else 0)
