#!/usr/bin/python3
"""Planted-structure checks of the C cores, through test/core/als_core.

als: ratings r = 3 + b_u + b_i + p_u.q_i + N(0, sigma = 0.5) from a rank-5
model (2000 users, 1000 items, 150 ratings per user), 10% of the ratings
held out.  Held-out RMSE must be within 10% of sigma (<= 0.55) and well
below the bias-only baseline.

ials: each user picks ~40 distinct items with probability proportional to
exp(3 p_u.q_i) times a mild popularity (rank-5 taste), 10% held out.
recall@10 over the held-out interactions (training items excluded from the
ranking) must be at least twice that of recommending the most popular
items, and above 0.15.

Each solver also runs again with one thread and with an interrupt poll
that says "pending" every third chunk (the core stops handing out chunks,
waits, checks, and carries on): both must give the same model, byte for
byte, as the first run.

Data come from a fixed seed; prints one ok / not ok line per check and
exits non-zero on failure.

usage: planted.py [--core PATH]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import mfref  # noqa: E402

SIGMA = 0.5


def run_core(core, algo, path, model, args):
    cmd = [core, algo, path, "--model", model, "--quiet"] + args
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout


def same_model_when_interrupted(core, algo, path, model, args):
    """Rerun with 1 thread and with --pending-every 3; compare the bytes."""
    with open(model, "rb") as f:
        first = f.read()
    ok = True
    for extra in (["--threads", "1"], ["--pending-every", "3"]):
        again = model + ".again"
        run_core(core, algo, path, again, args + extra)
        with open(again, "rb") as f:
            same = f.read() == first
        ok &= same
        solver = args[args.index("--cholesky"):] if "--cholesky" in args \
            else args[args.index("--cg-steps"):]
        print("%s - %s %s: same model with %s" % ("ok" if same else "not ok",
              algo, " ".join(solver), " ".join(extra)))
    return ok


def split(rng, u, i, r, frac=0.1):
    test = rng.random(u.size) < frac
    return (u[~test], i[~test], r[~test]), (u[test], i[test], r[test])


def planted_explicit(rng, nu=2000, ni=1000, k=5, per_user=150):
    P = rng.normal(0, 1 / np.sqrt(k), (nu, k))
    Q = rng.normal(0, 1 / np.sqrt(k), (ni, k))
    bu = rng.normal(0, 0.3, nu)
    bi = rng.normal(0, 0.3, ni)
    u = np.repeat(np.arange(nu), per_user)
    i = np.concatenate([rng.choice(ni, per_user, replace=False)
                        for _ in range(nu)])
    r = 3 + bu[u] + bi[i] + (P[u] * Q[i]).sum(1) + rng.normal(0, SIGMA, u.size)
    return u.astype(np.int32), i.astype(np.int32), r.astype(np.float32)


def planted_implicit(rng, nu=3000, ni=1500, k=5, per_user=40):
    P = rng.normal(0, 1 / np.sqrt(k), (nu, k))
    Q = rng.normal(0, 1 / np.sqrt(k), (ni, k))
    logpop = -0.5 * np.log(np.arange(ni) + 10.0)
    us, its = [], []
    for a in range(nu):
        logits = 3.0 * Q @ P[a] * np.sqrt(k) + logpop
        pr = np.exp(logits - logits.max())
        pr /= pr.sum()
        items = rng.choice(ni, per_user, replace=False, p=pr)
        us.append(np.full(per_user, a))
        its.append(items)
    u = np.concatenate(us).astype(np.int32)
    i = np.concatenate(its).astype(np.int32)
    return u, i, np.ones(u.size, np.float32)


def recall_at_10(scores, train, test, nu):
    """scores: nu x ni (or 1 x ni for everyone); train/test: (u, i)."""
    seen = {}
    for a, b in zip(*train):
        seen.setdefault(a, []).append(b)
    held = {}
    for a, b in zip(*test):
        held.setdefault(a, set()).add(b)
    total = 0.0
    for a, items in held.items():
        s = np.array(scores[a if scores.shape[0] > 1 else 0], dtype=np.float64)
        s[seen.get(a, [])] = -np.inf
        top = np.argpartition(-s, 10)[:10]
        total += len(items.intersection(top)) / min(10, len(items))
    return total / len(held)


def main():
    core = os.path.join(here, "..", "core", "als_core")
    if len(sys.argv) == 3 and sys.argv[1] == "--core":
        core = sys.argv[2]
    rng = np.random.default_rng(20240601)
    fail = 0
    with tempfile.TemporaryDirectory() as tmp:
        # ---- als
        u, i, r = planted_explicit(rng)
        (tu, ti, tr), (vu, vi, vr) = split(rng, u, i, r)
        path, model = os.path.join(tmp, "als.bin"), os.path.join(tmp, "als.model")
        mfref.write_triplets(path, tu, ti, tr)
        nu, ni = tu.max() + 1, ti.max() + 1
        ok_ids = (vu < nu) & (vi < ni)
        vu, vi, vr = vu[ok_ids], vi[ok_ids], vr[ok_ids]
        # bias-only baseline, fitted directly (damped alternating means)
        mu = tr.mean()
        bu_, bi_ = np.zeros(nu), np.zeros(ni)
        for _ in range(10):
            bi_ = np.bincount(ti, tr - mu - bu_[tu], ni) / (np.bincount(ti, minlength=ni) + 5)
            bu_ = np.bincount(tu, tr - mu - bi_[ti], nu) / (np.bincount(tu, minlength=nu) + 5)
        base = np.sqrt(np.mean((vr - (mu + bu_[vu] + bi_[vi])) ** 2))
        for solver in (["--cg-steps", "3"], ["--cholesky"]):
            args = ["--factors", "8", "--iterations", "15", "--reg", "0.03",
                    "--bias-reg", "0.03", "--threads", "2"] + solver
            run_core(core, "als", path, model, args)
            fail |= not same_model_when_interrupted(core, "als", path, model,
                                                    args)
            m = mfref.read_model(model)
            pred = m["mean"] + m["bu"][vu] + m["bi"][vi] + \
                (m["P"][vu] * m["Q"][vi]).sum(1)
            rmse = np.sqrt(np.mean((vr - pred) ** 2))
            ok = rmse <= 1.1 * SIGMA and rmse < 0.8 * base
            fail |= not ok
            print("%s - als %s: held-out RMSE %.4f (sigma %.2f, limit %.3f; "
                  "bias-only baseline %.4f)" % ("ok" if ok else "not ok",
                                                " ".join(solver), rmse, SIGMA,
                                                1.1 * SIGMA, base))

        # ---- ials
        u, i, r = planted_implicit(rng)
        train, test = split(rng, u, i, r)
        path, model = os.path.join(tmp, "ials.bin"), os.path.join(tmp, "ials.model")
        mfref.write_triplets(path, *train)
        nu, ni = train[0].max() + 1, train[1].max() + 1
        keep = (test[0] < nu) & (test[1] < ni)
        test = (test[0][keep], test[1][keep])
        pop = np.bincount(train[1], minlength=ni).astype(np.float64)[None, :]
        rpop = recall_at_10(pop, train[:2], test, nu)
        for solver in (["--cg-steps", "3"], ["--cholesky"]):
            args = ["--factors", "16", "--iterations", "15", "--reg", "0.1",
                    "--alpha", "10", "--init-std", "0.01",
                    "--threads", "2"] + solver
            run_core(core, "ials", path, model, args)
            fail |= not same_model_when_interrupted(core, "ials", path, model,
                                                    args)
            m = mfref.read_model(model)
            rec = recall_at_10(m["P"] @ m["Q"].T, train[:2], test, nu)
            ok = rec >= 2 * rpop and rec >= 0.15
            fail |= not ok
            print("%s - ials %s: held-out recall@10 %.4f (popularity %.4f)"
                  % ("ok" if ok else "not ok", " ".join(solver), rec, rpop))
    sys.exit(1 if fail else 0)


if __name__ == "__main__":
    main()
