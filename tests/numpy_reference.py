# Recomputes y_reference from a `helix_deploy --dump-npy` folder with the README's block equations
# in NumPy, independently of helix's Eigen kernels, and checks every y_<plan> against it. Covers
# GELU and SwiGLU MLPs, sequential and parallel blocks, and a vocabulary (embedding lookup, final
# norm and LM head over each sequence's last position).
# Usage: numpy_reference.py FOLDER   (a prefill dump; exits 1 on a mismatch)
import json
import math
import os
import sys

import numpy as np


def norm(x, folder, layer, which, kind):
    prefix = "final_norm" if layer is None else f"layer{layer}_norm{which}"
    gain = os.path.join(folder, f"{prefix}_gain.npy")
    shift = os.path.join(folder, f"{prefix}_shift.npy")
    if kind == "none":
        return x
    if kind == "layernorm":
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * np.load(gain) + np.load(shift)
    return x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + 1e-5) * np.load(gain)  # RMSNorm


def gelu(u):
    return 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3)))


def swiglu(gate, up):
    return gate * up / (1 + np.exp(-gate))


def block(x, folder, layer, heads, kv_heads, kind, activation, parallel):
    names = ["wq", "wk", "wv", "wo", "w1", "w2"] + (["w_gate"] if activation == "swiglu" else [])
    w = {n: np.load(os.path.join(folder, f"layer{layer}_{n}.npy")) for n in names}
    d = w["wq"].shape[1] // heads
    tokens = x.shape[1]
    a = norm(x, folder, layer, 1, kind)
    q, k, v = a @ w["wq"], a @ w["wk"], a @ w["wv"]
    mask = np.triu(np.full((tokens, tokens), -np.inf), k=1)  # key after query
    context = []
    for h in range(heads):
        g = h // (heads // kv_heads)
        qh, kg, vg = q[..., h * d:(h + 1) * d], k[..., g * d:(g + 1) * d], v[..., g * d:(g + 1) * d]
        s = qh @ kg.transpose(0, 2, 1) / math.sqrt(d) + mask
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        context.append(p @ vg)
    attention = np.concatenate(context, axis=-1) @ w["wo"]

    def mlp(a):
        if activation == "swiglu":
            return swiglu(a @ w["w_gate"], a @ w["w1"]) @ w["w2"]
        return gelu(a @ w["w1"]) @ w["w2"]

    if parallel:  # GPT-J / Falcon: both branches read the one normed input
        return x + attention + mlp(a)
    y = x + attention
    return y + mlp(norm(y, folder, layer, 2, kind))


def main():
    folder = sys.argv[1]
    with open(os.path.join(folder, "model.json")) as f:
        sizes = json.load(f)
    if sizes["workload"] != "prefill":
        sys.exit("numpy_reference.py checks prefill dumps only")
    heads, kv_heads = sizes["heads"], sizes["kv_heads"]
    vocab = sizes.get("vocab", 0)
    if vocab:
        ids = np.load(os.path.join(folder, "token_ids.npy"))
        assert (ids == np.round(ids)).all() and ids.min() >= 0 and ids.max() < vocab
        x = np.load(os.path.join(folder, "embedding.npy"))[ids.astype(np.int64)]
    else:
        x = np.load(os.path.join(folder, "x.npy"))
    layer = 0
    for layer in range(sizes["layers"]):
        x = block(x, folder, layer, heads, kv_heads, sizes["norm"], sizes["activation"],
                  sizes.get("parallel_block", False))
    layer = sizes["layers"]
    if vocab:  # the logits of each sequence's last position
        last = norm(x[:, -1:, :], folder, None, None, sizes["norm"])
        x = last @ np.load(os.path.join(folder, "lm_head.npy"))
    reference = np.load(os.path.join(folder, "y_reference.npy"))
    scale = np.abs(reference).max()
    ok = True
    for name in sorted(os.listdir(folder)):
        if not name.startswith("y_"):
            continue
        error = np.abs(np.load(os.path.join(folder, name)) - x).max()
        passed = error <= 1e-12 * scale
        ok = ok and passed
        print(f"{name}: max abs error {error:.2e} against NumPy over {layer} layers "
              f"({'ok' if passed else 'MISMATCH'})")
    sys.exit(0 if ok and layer > 0 else 1)


if __name__ == "__main__":
    main()
