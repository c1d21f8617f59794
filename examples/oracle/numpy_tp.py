#!/usr/bin/env python3
"""A user's own Megatron-style tensor-parallel transformer, checked against helix as an oracle.

This is what someone with their own sharded code does: each rank loads its weight slices and its
input from a `helix_deploy --dump-expected DIR` dump, runs the forward as their code would
(column-parallel Q/K/V and FC1, row-parallel out-projection and FC2, an all-reduce after each),
and saves the tensors it holds after each op under the dump's names, in ACTUAL_DIR. Then

    helix_compare DIR ACTUAL_DIR

names the first op and rank where the code goes wrong. The ranks run here one after the other in
one process, in lockstep layer by layer; the all-reduce is a sum over the ranks' buffers. Like a
fused (Flash) attention kernel, the code never holds the scores or the probabilities, so it saves
neither: helix_compare lists them as not given.

    numpy_tp.py DIR ACTUAL_DIR [--bug wrong-fc1-slice|skipped-all-reduce] [--bug-rank R]

--bug injects a realistic mistake on one rank: `wrong-fc1-slice` loads the next rank's FC1
column slice (an off-by-one in the rank → slice mapping); `skipped-all-reduce` leaves that rank's
out-projection partial un-reduced (its all-reduce call a no-op), as if it had been skipped.

Handles what a plain `tp=T` plan of a block stack without a vocabulary lowers to: prefill, one
microbatch, layernorm / rmsnorm / no norm, GELU or SwiGLU, grouped-query attention with the kv
heads divisible by T. NumPy only (Debian's python3-numpy).
"""
import argparse
import json
import math
import os
import sys

import numpy as np


def fail(message):
    print(f"numpy_tp.py: {message}", file=sys.stderr)
    sys.exit(2)


class Rank:
    """What one rank holds: its folder of the dump and its place in the tensor-parallel group."""

    def __init__(self, dump, index, rank, dtype):
        self.dump, self.rank, self.dtype = dump, rank, dtype
        self.folders = {d["device"]: d["folder"] for d in index["devices"]}
        self.folder = self.folders[rank]
        self.digits = max(2, len(str(index["sizes"]["layers"] - 1)))

    def layer(self, layer):
        """How the dump spells a layer: "layer03"."""
        return f"layer{layer:0{self.digits}d}"

    def load(self, relative):
        return np.load(os.path.join(self.dump, self.folder, relative)).astype(self.dtype)

    def weight(self, layer, name, rank=None):
        """The rank's slice of a weight (or another rank's: the bug below)."""
        folder = self.folders[self.rank if rank is None else rank]
        path = os.path.join(self.dump, folder, "weights", f"{self.layer(layer)}_{name}.npy")
        return np.load(path).astype(self.dtype)


def layer_norm(kind, x, gain, shift):
    if kind == "none":
        return x
    if kind == "rmsnorm":
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-5) * gain
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * gain + shift


def gelu(u):
    return 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3)))


def attention(q, k, v, heads, kv_heads, head_dim):
    """Causal attention over a rank's heads: q [b, t, heads·d], k and v [b, t, kv_heads·d]."""
    b, t, _ = q.shape
    q = q.reshape(b, t, heads, head_dim)
    group = heads // kv_heads
    k = np.repeat(k.reshape(b, t, kv_heads, head_dim), group, axis=2)
    v = np.repeat(v.reshape(b, t, kv_heads, head_dim), group, axis=2)
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(head_dim)
    scores = np.where(np.tril(np.ones((t, t), dtype=bool)), scores, -np.inf)
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("bhqk,bkhd->bqhd", p, v).reshape(b, t, heads * head_dim)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dump")
    parser.add_argument("actual")
    parser.add_argument("--bug", choices=["wrong-fc1-slice", "skipped-all-reduce"])
    parser.add_argument("--bug-rank", type=int, default=2)
    parser.add_argument("--float32", action="store_true",
                        help="compute and save in float32 (helix_compare then judges by verify's "
                             "float tolerance)")
    args = parser.parse_args()

    try:
        with open(os.path.join(args.dump, "index.json")) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {args.dump}/index.json: {e}")
    sizes, world = index["sizes"], index["world_size"]
    roles = [axis["role"] for axis in index["mesh"] if axis["size"] > 1]
    if roles not in ([], ["tensor"]) or sizes["vocab"] or sizes["parallel_block"] \
            or sizes["workload"] != "prefill" or index["workload"]["microbatches"] != 1 \
            or sizes["kv_heads"] % world:
        fail(f"plan {index['plan']} with these sizes is more than this example handles "
             "(tp=T, prefill, one microbatch, no vocabulary, kv heads divisible by T)")
    if not 0 <= args.bug_rank < world:
        fail(f"--bug-rank {args.bug_rank}: the plan has ranks 0..{world - 1}")
    names = {op["name"]: op["file"] for op in index["ops"]}
    dtype = np.float32 if args.float32 else np.float64
    ranks = [Rank(args.dump, index, r, dtype) for r in range(world)]
    heads, kv_heads = sizes["heads"] // world, sizes["kv_heads"] // world
    head_dim, norm = sizes["head_dim"], sizes["norm"]

    def save(rank, name, tensor):
        key = f"{name}.{ranks[rank].folder}"
        if key not in names:
            fail(f"the dump has no tensor '{key}'")
        path = os.path.join(args.actual, names[key])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, np.ascontiguousarray(tensor, dtype=dtype))

    def all_reduce(name, partials):
        total = sum(partials)
        out = []
        for r, partial in enumerate(partials):
            skipped = args.bug == "skipped-all-reduce" and r == args.bug_rank \
                and name.endswith("attention_output")
            out.append(partial if skipped else total)
            save(r, name, out[-1])
        return out

    x = [rank.load("input.npy") for rank in ranks]
    for r in range(world):
        save(r, "input", x[r])
    for layer in range(sizes["layers"]):
        at = ranks[0].layer(layer)

        def norm_of(r, slot, value):
            w = ranks[r]
            shift = w.weight(layer, f"norm{slot}_shift") if norm == "layernorm" else None
            gain = w.weight(layer, f"norm{slot}_gain") if norm != "none" else None
            out = layer_norm(norm, value, gain, shift)
            if norm != "none":
                save(r, f"{at}.norm{slot}", out)
            return out

        partials = []
        for r, w in enumerate(ranks):
            a = norm_of(r, 1, x[r])
            q, k, v = (a @ w.weight(layer, name) for name in ("wq", "wk", "wv"))
            for name, value in (("q", q), ("k", k), ("v", v)):
                save(r, f"{at}.{name}_projection", value)
            context = attention(q, k, v, heads, kv_heads, head_dim)
            save(r, f"{at}.attention_context", context)
            partials.append(context @ w.weight(layer, "wo"))
            save(r, f"{at}.out_projection", partials[-1])
        reduced = all_reduce(f"{at}.all_reduce_attention_output", partials)
        y = [x[r] + reduced[r] for r in range(world)]
        partials = []
        for r, w in enumerate(ranks):
            save(r, f"{at}.residual_add_attention", y[r])
            b = norm_of(r, 2, y[r])
            source = (r + 1) % world if args.bug == "wrong-fc1-slice" and r == args.bug_rank \
                else None
            up = b @ w.weight(layer, "w1", source)
            save(r, f"{at}.fc1", up)
            if sizes["activation"] == "swiglu":
                gate = b @ w.weight(layer, "w_gate")
                save(r, f"{at}.gate_projection", gate)
                h = gate / (1 + np.exp(-gate)) * up
                save(r, f"{at}.swiglu", h)
            else:
                h = gelu(up)
                save(r, f"{at}.gelu", h)
            partials.append(h @ w.weight(layer, "w2"))
            save(r, f"{at}.fc2", partials[-1])
        reduced = all_reduce(f"{at}.all_reduce_mlp_output", partials)
        x = [y[r] + reduced[r] for r in range(world)]
        for r in range(world):
            save(r, f"{at}.residual_add_mlp", x[r])
    for r in range(world):
        save(r, "output", x[r])
    print(f"numpy_tp.py: {world} ranks of plan {index['plan']}, {sizes['layers']} layers, "
          f"wrote their tensors to {args.actual}" + (f" (bug: {args.bug} on rank {args.bug_rank})"
                                                    if args.bug else ""))


if __name__ == "__main__":
    main()
