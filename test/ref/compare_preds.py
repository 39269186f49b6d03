#!/usr/bin/python3
"""Compare two "pred u i value" listings; exit 1 if any differs by > TOL.

usage: compare_preds.py EXPECTED ACTUAL TOL LABEL
"""
import sys


def read(path):
    out = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if w and w[0] == "pred":
                out[(int(w[1]), int(w[2]))] = float(w[3])
    return out


def main():
    exp, act = read(sys.argv[1]), read(sys.argv[2])
    tol, label = float(sys.argv[3]), sys.argv[4]
    if not exp or set(exp) != set(act):
        print("not ok - %s: prediction sets differ (%d expected, %d got)"
              % (label, len(exp), len(act)))
        sys.exit(1)
    worst = max(abs(exp[c] - act[c]) for c in exp)
    ok = worst <= tol
    print("%s - %s: max |diff| %.2e (tolerance %.0e)"
          % ("ok" if ok else "not ok", label, worst, tol))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
