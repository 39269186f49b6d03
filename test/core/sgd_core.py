"""Python side of the sgd_core driver, shared by test/ref/{svd,bpr,popularity}_ref.py
and test/core/tune.py.

- run(): run the C driver on a data set and read back its loss lines and model;
- write_triplets(): the driver's text input format (test/core/harness.h).

The port of src/core/rng.h that lets a reference replay the cores' random draws
is test/ref/mfref.py's RsRng.
"""
import os
import subprocess
import tempfile

import numpy as np

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
