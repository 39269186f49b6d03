#!/usr/bin/python3
"""Compares the neighbourhood driver's output with the reference's.

usage: knn_compare.py EXPECTED ACTUAL NAME
EXPECTED holds every configuration (test/ref/knn_ref.expected); the
section "# NAME" is compared with ACTUAL: the same neighbours in the same
order with the same supports, similarities within 2e-6, biases and scores
within 2e-5, and no MISMATCH line (predict != score).  Prints "ok NAME" or
"not ok NAME" and the differences.
"""
import sys


def section(path, name):
    out, on = [], name is None
    for line in open(path):
        if line.startswith("# "):
            on = line[2:].strip() == name
            continue
        if on and line.strip():
            out.append(line.split())
    return out


def keyed(rows):
    d = {}
    for r in rows:
        if r[0] == "nbr":
            d[("nbr", r[1], r[2])] = (r[3], float(r[4]), r[5])
        elif r[0] in ("bu", "bi"):
            d[(r[0], r[1])] = float(r[2])
        elif r[0] == "score":
            d[("score", r[1], r[2])] = float(r[3])
        else:
            d[tuple(r)] = None
    return d


def main():
    exp_path, act_path, name = sys.argv[1:4]
    exp = keyed(section(exp_path, name))
    act = keyed(section(act_path, None))
    bad = []
    for k in sorted(set(exp) | set(act)):
        if k not in exp or k not in act:
            bad.append("%s only in %s" % (" ".join(k), "expected" if k in exp else "actual"))
            continue
        e, a = exp[k], act[k]
        if k[0] == "nbr":
            if e[0] != a[0] or e[2] != a[2] or abs(e[1] - a[1]) > 2e-6:
                bad.append("%s: expected %s, got %s" % (" ".join(k), e, a))
        elif abs(e - a) > 2e-5:
            bad.append("%s: expected %.6f, got %.6f" % (" ".join(k), e, a))
    if not exp:
        bad.append("no expected values")
    print("%s %s" % ("not ok" if bad else "ok", name))
    for b in bad[:20]:
        print("    " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
