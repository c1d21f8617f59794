#!/usr/bin/env python3
"""A Megatron-style tensor-parallel transformer in PyTorch, checked against helix as an oracle.

What a user with their own sharded code does: T processes, one per rank, joined by
torch.distributed (the gloo backend over 127.0.0.1). Each loads its weight slices and its input
from a `helix_deploy --dump-expected DIR` dump, runs the forward as Megatron-LM's layers do
(column-parallel Q/K/V and FC1, row-parallel out-projection and FC2, an all-reduce after each),
and saves the tensors it holds after each op under the dump's names, in ACTUAL_DIR. Then

    helix_compare DIR ACTUAL_DIR

names the first op and rank where the code goes wrong. The attention is fused (no scores or
probabilities are kept), so helix_compare lists those as not given.

    torch_tp.py DIR ACTUAL_DIR [--bug wrong-fc1-slice|skipped-all-reduce] [--bug-rank R] [--float32]

--bug injects a realistic mistake on one rank: `wrong-fc1-slice` loads the next rank's FC1
columns (an off-by-one in the rank → slice mapping); `skipped-all-reduce` uses the rank's own
out-projection partial instead of the all-reduced sum (the collective still runs on every rank, so
nothing hangs, but that rank drops its result).

Handles a plain `tp=T` plan of a block stack without a vocabulary: prefill, one microbatch,
layernorm / rmsnorm / no norm, GELU or SwiGLU, grouped-query attention with the kv heads
divisible by T. Needs Debian's python3-torch and python3-numpy.
"""
import argparse
import json
import math
import os
import socket
import sys

import numpy as np


def fail(message):
    print(f"torch_tp.py: {message}", file=sys.stderr)
    sys.exit(2)


def layer_norm(torch, kind, x, gain, shift):
    if kind == "none":
        return x
    if kind == "rmsnorm":
        return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + 1e-5) * gain
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5) * gain + shift


def gelu(torch, u):
    return 0.5 * u * (1 + torch.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3)))


def attention(torch, q, k, v, heads, kv_heads, head_dim):
    """Causal attention over a rank's heads: q [b, t, heads·d], k and v [b, t, kv_heads·d]."""
    b, t, _ = q.shape
    q = q.reshape(b, t, heads, head_dim).transpose(1, 2)
    group = heads // kv_heads
    k = k.reshape(b, t, kv_heads, head_dim).transpose(1, 2).repeat_interleave(group, dim=1)
    v = v.reshape(b, t, kv_heads, head_dim).transpose(1, 2).repeat_interleave(group, dim=1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim)
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    p = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return (p @ v).transpose(1, 2).reshape(b, t, heads * head_dim)


def worker(rank, args, index, port):
    import torch
    import torch.distributed as dist

    world = index["world_size"]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    dtype = torch.float32 if args.float32 else torch.float64
    np_dtype = np.float32 if args.float32 else np.float64
    sizes = index["sizes"]
    folders = {d["device"]: d["folder"] for d in index["devices"]}
    names = {op["name"]: op["file"] for op in index["ops"]}
    digits = max(2, len(str(sizes["layers"] - 1)))
    heads, kv_heads = sizes["heads"] // world, sizes["kv_heads"] // world
    head_dim, norm = sizes["head_dim"], sizes["norm"]

    def load(relative, owner=rank):
        array = np.load(os.path.join(args.dump, folders[owner], relative))
        return torch.from_numpy(array.astype(np_dtype))

    def weight(layer, name, owner=rank):
        return load(os.path.join("weights", f"layer{layer:0{digits}d}_{name}.npy"), owner)

    def save(name, tensor):
        key = f"{name}.{folders[rank]}"
        if key not in names:
            raise SystemExit(f"torch_tp.py: the dump has no tensor '{key}'")
        path = os.path.join(args.actual, names[key])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, tensor.detach().numpy().astype(np_dtype))

    def all_reduce(name, partial):
        total = partial.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        skipped = args.bug == "skipped-all-reduce" and rank == args.bug_rank \
            and name.endswith("attention_output")
        result = partial if skipped else total
        save(name, result)
        return result

    x = load("input.npy")
    save("input", x)
    with torch.no_grad():
        for layer in range(sizes["layers"]):
            at = f"layer{layer:0{digits}d}"

            def norm_of(slot, value):
                gain = weight(layer, f"norm{slot}_gain") if norm != "none" else None
                shift = weight(layer, f"norm{slot}_shift") if norm == "layernorm" else None
                out = layer_norm(torch, norm, value, gain, shift)
                if norm != "none":
                    save(f"{at}.norm{slot}", out)
                return out

            a = norm_of(1, x)
            q, k, v = (a @ weight(layer, name) for name in ("wq", "wk", "wv"))
            for name, value in (("q", q), ("k", k), ("v", v)):
                save(f"{at}.{name}_projection", value)
            context = attention(torch, q, k, v, heads, kv_heads, head_dim)
            save(f"{at}.attention_context", context)
            partial = context @ weight(layer, "wo")
            save(f"{at}.out_projection", partial)
            y = x + all_reduce(f"{at}.all_reduce_attention_output", partial)
            save(f"{at}.residual_add_attention", y)
            b = norm_of(2, y)
            source = (rank + 1) % world if args.bug == "wrong-fc1-slice" \
                and rank == args.bug_rank else rank
            up = b @ weight(layer, "w1", source)
            save(f"{at}.fc1", up)
            if sizes["activation"] == "swiglu":
                gate = b @ weight(layer, "w_gate")
                save(f"{at}.gate_projection", gate)
                h = torch.nn.functional.silu(gate) * up
                save(f"{at}.swiglu", h)
            else:
                h = gelu(torch, up)
                save(f"{at}.gelu", h)
            partial = h @ weight(layer, "w2")
            save(f"{at}.fc2", partial)
            x = y + all_reduce(f"{at}.all_reduce_mlp_output", partial)
            save(f"{at}.residual_add_mlp", x)
    save("output", x)
    dist.barrier()
    dist.destroy_process_group()


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
        import torch.multiprocessing
    except ImportError:
        fail("PyTorch is not installed (Debian: apt-get install python3-torch)")
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
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(worker, args=(args, index, port), nprocs=world, join=True)
    print(f"torch_tp.py: {world} torch.distributed (gloo) ranks of plan {index['plan']}, "
          f"{sizes['layers']} layers, wrote their tensors to {args.actual}"
          + (f" (bug: {args.bug} on rank {args.bug_rank})" if args.bug else ""))


if __name__ == "__main__":
    main()
