#!/usr/bin/python3
"""The SciPy peer of test/bench/audit.sh.

Reads (group, prediction - rating) for every test row -- recsys.predictions()
joined to the groups query, by text COPY ("copy_seconds") -- and computes
per-group n and RMSE with NumPy and one-way ANOVA and Kruskal-Wallis on the
squared errors with scipy.stats ("compute_seconds").  Prints "key value"
lines.

    audit_peer.py --model b --test b_interactions --groups 'SELECT ...' -- psql args...
"""
import argparse
import subprocess
import time

import numpy as np
from scipy import stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--groups", required=True)
    ap.add_argument("psql", nargs="+")
    a = ap.parse_args()

    lit = lambda s: "'" + s.replace("'", "''") + "'"
    # (group keys without white space, as the benchmark's are)
    sql = ("COPY (SELECT g.grp::text, p.prediction - p.rating "
           "FROM recsys.predictions(%s, %s) p JOIN (%s) AS g(u, grp) ON g.u::text = p.user_key "
           "WHERE p.prediction IS NOT NULL AND p.rating IS NOT NULL AND g.grp IS NOT NULL) TO STDOUT"
           % (lit(a.model), lit(a.test), a.groups))
    t0 = time.time()
    buf = subprocess.run(a.psql + ["-X", "-q", "-c", sql], check=True,
                         stdout=subprocess.PIPE).stdout
    tok = buf.split()
    err = np.array(tok[1::2], dtype=np.float64)
    grp = np.array(tok[0::2])
    t1 = time.time()

    sq = err ** 2
    keys, inv = np.unique(grp, return_inverse=True)
    samples = [sq[inv == i] for i in range(len(keys))]
    keys = [k.decode() for k in keys]
    rmse = [(k, len(s), float(np.sqrt(s.mean()))) for k, s in zip(keys, samples)]
    f = stats.f_oneway(*samples)
    h = stats.kruskal(*samples)
    t2 = time.time()

    print("copy_seconds %.1f" % (t1 - t0))
    print("compute_seconds %.1f" % (t2 - t1))
    print("anova_f %r" % float(f.statistic))
    print("kruskal_h %r" % float(h.statistic))
    print("rmse %s" % ",".join("%s:%d:%r" % r for r in rmse))


if __name__ == "__main__":
    main()
