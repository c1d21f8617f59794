# Recomputes y_reference from a `helix_deploy --dump-npy` folder with the README's block equations
# in NumPy, independently of helix's Eigen kernels, and checks every y_<plan> against it. Covers
# GELU and SwiGLU MLPs, sequential and parallel blocks, and a vocabulary (embedding lookup, final
# norm and LM head over each sequence's last position); prefill, and decode (one new token per
# sequence against each layer's dumped KV cache). For a KV-parallel plan (kvp=K, NVIDIA's Helix)
# it also computes decode attention its way: the cache dealt to K shards as model.json's
# kv_placement says, per shard a partial output and log-sum-exp, merged exactly; that must equal
# the softmax over the whole cache, and the plan's y_ must equal it.
# Usage: numpy_reference.py FOLDER   (exits 1 on a mismatch)
import json
import math
import os
import re
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


def shard_positions(index, count, cached, placement):
    """Positions of a cache of `cached` tokens (the new one at position `cached` included) that KV
    shard `index` of `count` holds: contiguous blocks [floor(k n / K), floor((k+1) n / K)) with
    the new token on the last shard, or `chunk`-token chunks round robin (position p on shard
    floor(p / chunk) mod K), the new token included (model/kv_placement.hpp's documentation)."""
    if placement == "contiguous":
        held = list(range(index * cached // count, (index + 1) * cached // count))
        return held + ([cached] if index == count - 1 else [])
    chunk = int(placement.split(":")[1])
    return [p for p in range(cached + 1) if p // chunk % count == index]


def merged_attention(q, k, v, shards, placement):
    """Decode attention as KV-parallel decode computes it: shard i attends over its positions,
    giving O_i and L_i = log sum_j exp(q k_j / sqrt(d)); then L = log sum_i exp(L_i) and
    O = sum_i exp(L_i - L) O_i."""
    cached = k.shape[1] - 1
    outputs, lses = [], []
    for i in range(shards):
        rows = shard_positions(i, shards, cached, placement)
        s = q @ k[:, rows, :].transpose(0, 2, 1) / math.sqrt(q.shape[-1])  # [b, 1, keys]
        m = s.max(axis=-1, keepdims=True)
        e = np.exp(s - m)
        outputs.append(e / e.sum(axis=-1, keepdims=True) @ v[:, rows, :])
        lses.append(m + np.log(e.sum(axis=-1, keepdims=True)))
    total = np.logaddexp.reduce(np.stack(lses), axis=0)
    return sum(np.exp(l - total) * o for o, l in zip(outputs, lses))


def block(x, folder, layer, sizes, attend):
    heads, kv_heads, kind = sizes["heads"], sizes["kv_heads"], sizes["norm"]
    activation, parallel = sizes["activation"], sizes.get("parallel_block", False)
    names = ["wq", "wk", "wv", "wo", "w1", "w2"] + (["w_gate"] if activation == "swiglu" else [])
    w = {n: np.load(os.path.join(folder, f"layer{layer}_{n}.npy")) for n in names}
    d = w["wq"].shape[1] // heads
    tokens = x.shape[1]
    a = norm(x, folder, layer, 1, kind)
    q, k, v = a @ w["wq"], a @ w["wk"], a @ w["wv"]
    decode = sizes["workload"] == "decode"
    if decode:  # the new token's keys and values after the context's, which it all sees
        k = np.concatenate([np.load(os.path.join(folder, f"layer{layer}_keys_cache.npy")), k], 1)
        v = np.concatenate([np.load(os.path.join(folder, f"layer{layer}_values_cache.npy")), v], 1)
        mask = np.zeros((tokens, k.shape[1]))
    else:
        mask = np.triu(np.full((tokens, tokens), -np.inf), k=1)  # key after query
    context = []
    for h in range(heads):
        g = h // (heads // kv_heads)
        qh, kg, vg = q[..., h * d:(h + 1) * d], k[..., g * d:(g + 1) * d], v[..., g * d:(g + 1) * d]
        if attend is None:
            s = qh @ kg.transpose(0, 2, 1) / math.sqrt(d) + mask
            p = np.exp(s - s.max(axis=-1, keepdims=True))
            p /= p.sum(axis=-1, keepdims=True)
            context.append(p @ vg)
        else:
            context.append(attend(qh, kg, vg))
    attention = np.concatenate(context, axis=-1) @ w["wo"]

    def mlp(a):
        if activation == "swiglu":
            return swiglu(a @ w["w_gate"], a @ w["w1"]) @ w["w2"]
        return gelu(a @ w["w1"]) @ w["w2"]

    if parallel:  # GPT-J / Falcon: both branches read the one normed input
        return x + attention + mlp(a)
    y = x + attention
    return y + mlp(norm(y, folder, layer, 2, kind))


def forward(folder, sizes, attend=None):
    """The model's output over every layer; `attend` replaces the softmax attention per head."""
    vocab = sizes.get("vocab", 0)
    if vocab:
        ids = np.load(os.path.join(folder, "token_ids.npy"))
        assert (ids == np.round(ids)).all() and ids.min() >= 0 and ids.max() < vocab
        x = np.load(os.path.join(folder, "embedding.npy"))[ids.astype(np.int64)]
    else:
        x = np.load(os.path.join(folder, "x.npy"))
    for layer in range(sizes["layers"]):
        x = block(x, folder, layer, sizes, attend)
    if vocab:  # the logits of each sequence's last position
        last = norm(x[:, -1:, :], folder, None, None, sizes["norm"])
        x = last @ np.load(os.path.join(folder, "lm_head.npy"))
    return x


def main():
    folder = sys.argv[1]
    with open(os.path.join(folder, "model.json")) as f:
        sizes = json.load(f)
    layers = sizes["layers"]
    x = forward(folder, sizes)
    reference = np.load(os.path.join(folder, "y_reference.npy"))
    scale = np.abs(reference).max()
    ok = True
    for name in sorted(os.listdir(folder)):
        if not name.startswith("y_"):
            continue
        expected = x
        shards = re.search(r"(?:^|_)kvp_(\d+)(?:_|\.npy$)", name[2:])
        if shards and sizes["workload"] == "decode":
            placement = sizes.get("kv_placement", "contiguous")
            count = int(shards.group(1))
            expected = forward(folder, sizes,
                               lambda q, k, v: merged_attention(q, k, v, count, placement))
            merge_error = np.abs(expected - x).max()
            merge_ok = merge_error <= 1e-12 * scale
            ok = ok and merge_ok
            print(f"{name}: {count} KV shards ({placement}) merged by log-sum-exp against the "
                  f"softmax over the whole cache: max abs error {merge_error:.2e} "
                  f"({'ok' if merge_ok else 'MISMATCH'})")
        error = np.abs(np.load(os.path.join(folder, name)) - expected).max()
        passed = error <= 1e-12 * scale
        ok = ok and passed
        print(f"{name}: max abs error {error:.2e} against NumPy over {layers} layers "
              f"({sizes['workload']}; {'ok' if passed else 'MISMATCH'})")
    sys.exit(0 if ok and layers > 0 else 1)


if __name__ == "__main__":
    main()
