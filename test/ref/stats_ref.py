#!/usr/bin/python3
"""Reference values for sql/stats.sql, computed with SciPy.

Prints the SQL that sql/stats.sql holds between its "stats_ref.py" markers:
the test data (seeded, printed with repr so PostgreSQL reads back the very
same doubles) and the expected results of scipy.stats.f_oneway,
ttest_ind(equal_var=False), kruskal and the F, t and chi-squared survival
functions.  The regression test asserts recsys' values to 1e-8 relative.

    /usr/bin/python3 test/ref/stats_ref.py > test/ref/stats_ref.expected

Debian 12: python3-scipy 1.10.1, python3-numpy 1.24.2.
"""
import numpy as np
from scipy import stats

rng = np.random.default_rng(20261201)


def rounded(a, d=3):
    return [float(round(x, d)) for x in a]


def normal_groups(**groups):
    """{name: (mean, sd, n)} -> {name: n rounded normal draws}, drawn in
    the order given."""
    return {g: rounded(rng.normal(mean, sd, n))
            for g, (mean, sd, n) in groups.items()}


cases = {}
# three groups, unequal sizes and spreads
cases["anova3"] = normal_groups(a=(10.0, 1.0, 5), b=(11.0, 2.0, 8),
                                c=(9.5, 0.5, 3))
# two groups, unequal n and variance (Welch's case)
cases["welch"] = normal_groups(x=(0.0, 1.0, 6), y=(1.5, 4.0, 15))
# many ties: integer scores 1..5
cases["ties"] = {
    "p": [float(v) for v in rng.integers(1, 6, 7)],
    "q": [float(v) for v in rng.integers(2, 6, 9)],
    "r": [float(v) for v in rng.integers(1, 4, 5)],
}
# far apart: p-values around 1e-30 and below
cases["extreme"] = normal_groups(lo=(0.0, 1.0, 50), mid=(1.8, 1.0, 50),
                                 hi=(3.6, 1.0, 50))
cases["extreme2"] = normal_groups(u=(0.0, 1.0, 30), v=(7.0, 2.0, 40))
cases["extreme3"] = normal_groups(lo=(0.0, 1.0, 60), mid=(3.0, 1.0, 60),
                                  hi=(6.0, 1.0, 60))
# tiny groups
cases["tiny"] = {"s": [1.0, 2.5], "t": [3.0, 4.25], "w": [0.5, 2.0, 1.25]}
cases["tiny2"] = {"s": [1.0, 2.5], "t": [3.0, 5.25]}

print("-- data and SciPy %s reference values: test/ref/stats_ref.py" % __import__("scipy").__version__)
print("INSERT INTO stats_data (c, g, v) VALUES")
rows = []
for c, groups in cases.items():
    for g, vals in groups.items():
        for v in vals:
            rows.append("('%s', '%s', %r)" % (c, g, v))
print(",\n".join(rows) + ";")

print("INSERT INTO stats_expected (c, test, statistic, df1, df2, p) VALUES")
rows = []
for c, groups in cases.items():
    samples = [np.array(v) for v in groups.values()]
    n = sum(len(s) for s in samples)
    k = len(samples)
    f = stats.f_oneway(*samples)
    rows.append("('%s', 'anova', %r, %r, %r, %r)" % (c, float(f.statistic), float(k - 1), float(n - k), float(f.pvalue)))
    h = stats.kruskal(*samples)
    rows.append("('%s', 'kruskal', %r, %r, NULL, %r)" % (c, float(h.statistic), float(k - 1), float(h.pvalue)))
    if k == 2:
        # group_1 is the key that sorts first, as in recsys.welch_t_test
        a, b = (samples[0], samples[1]) if list(groups)[0] < list(groups)[1] else (samples[1], samples[0])
        t = stats.ttest_ind(a, b, equal_var=False)
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
        rows.append("('%s', 'welch', %r, %r, NULL, %r)" % (c, float(t.statistic), float(df), float(t.pvalue)))
print(",\n".join(rows) + ";")

print("INSERT INTO sf_expected (fn, x, df1, df2, p) VALUES")
rows = []
for x in [0.5, 1.0, 3.0, 10.0, 40.0, 150.0]:
    for d1, d2 in [(1, 1), (2, 5), (3, 100), (10, 1000), (1, 200000), (50, 50)]:
        rows.append("('f', %r, %r, %r, %r)" % (x, float(d1), float(d2), float(stats.f.sf(x, d1, d2))))
for t in [-3.0, -0.5, 0.0, 1.0, 2.5, 6.0, 15.0, 30.0]:
    for df in [1.0, 3.7, 10.0, 100.0, 10000.0]:
        rows.append("('t', %r, %r, NULL, %r)" % (t, df, float(stats.t.sf(t, df))))
for x in [0.01, 1.0, 5.0, 30.0, 150.0, 300.0, 700.0]:
    for df in [1.0, 2.0, 5.0, 49.0, 500.0]:
        rows.append("('chi2', %r, %r, NULL, %r)" % (x, df, float(stats.chi2.sf(x, df))))
print(",\n".join(rows) + ";")
