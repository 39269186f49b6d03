"""Python side of the core2 driver, shared by test/ref/{svd,bpr,popularity}_ref.py.

- run(): run the C driver on a data set and read back its loss lines and model;
- Rng: an independent transcription of src/core/rng.h (xoshiro256** seeded through
  splitmix64), so a reference can replay the cores' random draws;
- write_triplets(): the driver's text input format.
"""
import math
import os
import subprocess
import tempfile

import numpy as np

M64 = (1 << 64) - 1


def _splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


class Rng:
    """rs_rng_init(seed, stream) and its draws, bit for bit."""

    def __init__(self, seed, stream):
        x = (seed ^ ((stream * 0xD1B54A32D192ED03) & M64)) & M64
        self.s = []
        for _ in range(4):
            x, z = _splitmix64(x)
            self.s.append(z)

    def next(self):
        s = self.s
        t = (s[1] << 17) & M64
        v = (s[1] * 5) & M64
        v = ((((v << 7) | (v >> 57)) & M64) * 9) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & M64
        return v

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def below(self, n):
        if n <= 0xFFFFFFFF:
            return ((self.next() >> 32) * n) >> 32
        return self.next() % n

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)


def init_factors(rows, k, init_std, seed, family):
    """Row e = float32(init_std * N(0,1)) from stream (seed, family << 32 | e)."""
    out = np.zeros((rows, k))
    for e in range(rows):
        r = Rng(seed, (family << 32) | e)
        for c in range(k):
            out[e, c] = float(np.float32(init_std * r.normal()))
    return out


def write_triplets(path, users, items, values, ts=None):
    with open(path, "w") as f:
        for x in range(len(users)):
            if ts is None:
                f.write("%d %d %.9g\n" % (users[x], items[x], values[x]))
            else:
                f.write("%d %d %.9g %.17g\n" % (users[x], items[x], values[x], ts[x]))


class Model:
    pass


def read_model(path):
    md = Model()
    users, items = {}, {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "model":
                md.algo = w[1]
                md.n_users, md.n_items, md.factors = int(w[2]), int(w[3]), int(w[4])
                md.global_mean = float(w[5])
            elif w[0] == "loss":
                md.loss = [float(x) for x in w[2:]]
            elif w[0] == "user":
                users[int(w[1])] = [float(x) for x in w[2:]]
            elif w[0] == "item":
                items[int(w[1])] = [float(x) for x in w[2:]]
    k = md.factors
    md.user_bias = np.array([users[u][0] for u in range(md.n_users)]) if users else None
    md.user_factors = (np.array([users[u][1:] for u in range(md.n_users)]).reshape(-1, k)
                       if users else None)
    md.item_bias = np.array([items[i][0] for i in range(md.n_items)])
    md.item_factors = np.array([items[i][1:] for i in range(md.n_items)]).reshape(md.n_items, k)
    return md


def run(driver, algo, data_path, **params):
    """Run the driver; return (model, stdout lines)."""
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "model.txt")
        args = [driver, algo, data_path] + ["%s=%s" % kv for kv in params.items()]
        args.append("model=" + model_path)
        res = subprocess.run(args, check=True, capture_output=True, text=True)
        return read_model(model_path), res.stdout.splitlines()
