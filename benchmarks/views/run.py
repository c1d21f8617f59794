#!/usr/bin/python3
"""helix_deploy's views (issue 13, target 4): time with SVG rendering against time without, and
whether Graphviz drew every device cluster in rank order.

Time: the seed defaults (`helix_deploy --out DIR`, its 12 views) ROUNDS times (default 5), each
round three runs back to back so that a change in the machine's load hits them alike:
    cold     into a fresh --out folder (12 SVGs drawn by dot)
    warm     again into the same folder (every view unchanged: nothing drawn)
    no dot   PATH=/nonexistent into a fresh folder (DOT files only)
The medians are printed with the ratios, the CPU time (user + system, dot's included) of the cold
runs, and the floors under the cold run: the CPU time of `dot -Tsvg` on the 12 DOT files, one
process each and all in one process, over the cores, and the cold run's whole CPU time over the
cores.

Order: helix_deploy (with dot) for the seed defaults and PLANS; in each view SVG it wrote, the x of
each `cluster_stage_S_gpu_D` outline; a stage whose clusters are not left to right in ascending
device order is listed.

Usage, from anywhere:  benchmarks/views/run.py [HELIX_DEPLOY]
Environment: ROUNDS (5), HELIX_DEPLOY (default: build/examples/helix_deploy of this worktree).
"""
import collections
import os
import pathlib
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

here = pathlib.Path(__file__).resolve().parent
root = here.parent.parent
deploy = (sys.argv[1] if len(sys.argv) > 1 else
          os.environ.get("HELIX_DEPLOY", str(root / "build" / "examples" / "helix_deploy")))
rounds = int(os.environ.get("ROUNDS", "5"))
# Plans beside the seed defaults: flat tensor parallel, the seed's two alone, data parallel,
# pipeline with data parallel, a KV-parallel decode on the seed and one on llama3_8b.
PLANS = [["--plan", "tp=8"], ["--plan", "hp=4x4"], ["--plan", "pp=2,tg=4x4"],
         ["--plan", "dp=2,tp=4"], ["--plan", "pp=2,dp=2,tp=2"], ["--plan", "tp=16"],
         ["--workload", "decode", "--plan", "kvp=4,tp=4"],
         ["--model", "llama3_8b", "--workload", "decode", "--plan", "kvp=4,tp=2", "--views", "all"]]


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(arguments, environment=None, must_succeed=True):
    """Elapsed seconds and CPU seconds (children included) of one helix_deploy run, or nothing
    when it failed and need not succeed."""
    cpu, start = children_cpu(), time.perf_counter()
    run = subprocess.run([deploy, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=environment, text=True)
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        if must_succeed:
            sys.exit(f"helix_deploy {' '.join(arguments)} failed:\n{run.stderr}")
        return None
    return elapsed, children_cpu() - cpu


def cluster_order(svg):
    """Device numbers by stage, left to right as drawn."""
    found = collections.defaultdict(list)
    for m in re.finditer(r'<title>cluster_stage_(\d+)_gpu_(\d+)</title>\s*<(?:path|polygon)[^>]*?'
                         r'(?:d="M|points=")([-\d.]+),', svg):
        found[int(m.group(1))].append((float(m.group(3)), int(m.group(2))))
    return {stage: [device for _, device in sorted(xs)] for stage, xs in found.items()}


def main():
    """Measures and prints; returns the medians (seconds), the floor and the order's findings for
    benchmarks/run_all.py."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="helix_views_"))
    no_dot = dict(os.environ, PATH="/nonexistent")
    cold, cold_cpu, warm, plain = [], [], [], []
    for _ in range(rounds):
        for folder in ("cold", "plain"):
            shutil.rmtree(work / folder, ignore_errors=True)
        elapsed, cpu = timed(["--out", str(work / "cold")])
        cold.append(elapsed)
        cold_cpu.append(cpu)
        warm.append(timed(["--out", str(work / "cold")])[0])
        plain.append(timed(["--out", str(work / "plain")], no_dot)[0])
    dots = sorted(str(p) for p in (work / "cold").glob("*.dot"))
    cpu = children_cpu()
    for dot in dots:
        subprocess.run(["dot", "-Tsvg", dot], stdout=subprocess.DEVNULL, check=True)
    separate_cpu = children_cpu() - cpu
    cpu = children_cpu()
    subprocess.run(["dot", "-Tsvg", *dots], stdout=subprocess.DEVNULL, check=True)
    dot_cpu = children_cpu() - cpu
    cores = os.cpu_count() or 1
    c, w, n = (statistics.median(x) for x in (cold, warm, plain))
    floor = statistics.median(cold_cpu) / cores
    print(f"load average {os.getloadavg()[0]:.1f}, {cores} cores, {rounds} rounds, medians:")
    print(f"  cold {c:.2f} s (CPU {statistics.median(cold_cpu):.2f} s), warm {w:.2f} s, "
          f"no dot {n:.2f} s: cold / no dot {c / n:.1f}x, warm / no dot {w / n:.1f}x")
    print(f"  dot -Tsvg on the {len(dots)} DOT files one process each: {separate_cpu:.2f} s CPU, "
          f"over {cores} cores {separate_cpu / cores:.2f} s = {separate_cpu / cores / n:.1f}x no dot")
    print(f"  dot -Tsvg on the {len(dots)} DOT files in one process: {dot_cpu:.2f} s CPU, over "
          f"{cores} cores {dot_cpu / cores:.2f} s = {dot_cpu / cores / n:.1f}x no dot; the cold "
          f"run's CPU over {cores} cores {floor:.2f} s = {floor / n:.1f}x no dot")

    views = clustered = 0
    wrong = []
    for i, arguments in enumerate([[]] + PLANS):
        out = work / f"order_{i}"
        if timed([*arguments, "--no-verify", "--out", str(out)], must_succeed=False) is None:
            wrong.append(f"{' '.join(arguments)}: helix_deploy failed (dot could not draw a view)")
        for svg in sorted(out.glob("*.svg")):
            if svg.name.endswith("_timeline.svg"):
                continue
            views += 1
            order = cluster_order(svg.read_text())
            clustered += 1 if order else 0
            wrong += [f"{' '.join(arguments) or 'seed defaults'}: {svg.name} stage {stage}: {devices}"
                      for stage, devices in order.items() if devices != sorted(devices)]
    print(f"  device-cluster order: {views} view SVGs of {len(PLANS) + 1} runs, {clustered} with "
          f"device clusters, {len(wrong)} stages out of rank order or runs failed")
    for line in wrong:
        print("    " + line)
    shutil.rmtree(work)
    return {"cold": c, "warm": w, "no_dot": n, "floor": floor, "views": views,
            "clustered": clustered, "wrong": wrong}


if __name__ == "__main__":
    main()
