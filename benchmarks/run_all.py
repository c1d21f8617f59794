#!/usr/bin/python3
"""Every performance target of issue 13, measured in one run and printed as one table.

Usage, from anywhere, after `cmake -DHELIX_BUILD_BENCHMARKS=ON` and a build:

    benchmarks/run_all.py [--build DIR] [--native-build DIR] [--skip AREA ...] [--markdown FILE]
    benchmarks/run_all.py --smoke --build DIR      # CTest: each part once at its smallest size

Areas (in this order): dag (helix_bench_dag: build, bare insertion, check, simulate, peak RSS),
generation (helix_bench_dag: generation costing against prefill costing), executor
(helix_bench_numerics: sharded against reference, reference against a bare GEMM; also the
--native-build's when given), views (benchmarks/views/run.py: helix_deploy with and without `dot`,
fresh and rerun, and the device clusters' order in every view; the whole-model view's height),
compile (benchmarks/compile_time/run.py).

Every target is a ratio of two figures taken in the same run, or an absolute bound with a wide
margin: the machine is shared. Times are the benchmark thread's CPU time (Google Benchmark's
cpu_time), which waiting for a core does not inflate; the views are wall time (they run `dot`
processes on both cores), the median of --view-runs rounds. A target that does not hold is
printed as "no"; the program still exits 0, since a report is its purpose. It exits 1 when a
benchmark fails to run. With --smoke the sizes are too small to judge, and "holds" says "smoke".
"""
import argparse
import importlib.util
import json
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile

here = pathlib.Path(__file__).resolve().parent
root = here.parent


class Table:
    """Rows of (area, measurement, measured, target, holds)."""

    def __init__(self, smoke):
        self.rows = []
        self.smoke = smoke

    def add(self, area, measurement, measured, target, holds):
        verdict = "smoke" if self.smoke else ("yes" if holds else "no")
        self.rows.append((area, measurement, measured, target, verdict))
        print(f"  {measurement}: {measured} (target {target}): {verdict}", flush=True)

    def markdown(self):
        lines = ["| area | measurement | measured | target | holds |", "|---|---|--:|--:|:-:|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def run_benchmark(binary, benchmark_filter, min_time, repetitions=1):
    """Google Benchmark's JSON for the benchmarks `benchmark_filter` selects: {name: run}, each
    time in seconds (cpu_time, real_time), the median when repeated."""
    command = [str(binary), f"--benchmark_filter={benchmark_filter}",
               f"--benchmark_min_time={min_time}", "--benchmark_format=json"]
    if repetitions > 1:
        command += [f"--benchmark_repetitions={repetitions}",
                    "--benchmark_report_aggregates_only=true"]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"run_all: {' '.join(command)} failed ({run.returncode}):\n{run.stderr}")
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    results = {}
    for b in json.loads(run.stdout)["benchmarks"]:
        if repetitions > 1 and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        unit = scale[b.get("time_unit", "ns")]
        b["cpu_seconds"] = b["cpu_time"] * unit
        b["real_seconds"] = b["real_time"] * unit
        results[name] = b
    if not results:
        sys.exit(f"run_all: {' '.join(command)} ran no benchmark")
    return results


def binary(build, relative):
    path = pathlib.Path(build) / relative
    if not path.exists():
        sys.exit(f"run_all: {path} is missing: configure with -DHELIX_BUILD_BENCHMARKS=ON and build")
    return path


def dag_area(table, args):
    """Issue 13 target 1 and simulate: 10^3 … 10^6 vertices (llama31_405b; bench_dag.cpp)."""
    bench = binary(args.build, "benchmarks/helix_bench_dag")
    largest = 0 if args.smoke else 3
    sizes = "|".join(str(i) for i in range(largest + 1))
    results = run_benchmark(bench, f"^(build|bare_insertion|check|simulate)/({sizes})$", 0.001,
                            1 if args.smoke else args.repetitions)

    def seconds(kind, size):
        return results[f"{kind}/{size}"]["cpu_seconds"]

    vertices = {i: results[f"build/{i}"]["vertices"] for i in range(largest + 1)}
    n = f"{vertices[largest]:,.0f} vertices"
    build = seconds("build", largest)
    table.add("dag", f"build (lower + materialize), {n}", f"{build:.2f} s", "≤ 1.5 s",
              build <= 1.5)
    for small, large in zip(range(largest), range(1, largest + 1)):
        growth = (seconds("build", large) / seconds("build", small)) / (
            vertices[large] / vertices[small])
        table.add("dag", f"build time per vertex, {vertices[small]:,.0f} → {vertices[large]:,.0f}",
                  f"{growth:.2f}×", "≤ 1.2× (10× vertices ≤ 12× time)", growth <= 1.2)
    bare = seconds("bare_insertion", largest)
    table.add("dag", f"build / bare insertion into the same graph type, {n}",
              f"{build:.2f} / {bare:.2f} s = {build / bare:.2f}×", "≤ 2×", build / bare <= 2)
    check = seconds("check", largest)
    table.add("dag", f"check, {n}", f"{check:.2f} s", "≤ 1 s", check <= 1)
    simulate = seconds("simulate", largest)
    table.add("dag", f"simulate, {n}", f"{simulate:.2f} s", "≤ 1 s", simulate <= 1)
    # A process of its own: ru_maxrss is the process's high-water, whatever ran before.
    alone = run_benchmark(bench, f"^build/{largest}$", 0.001)[f"build/{largest}"]
    rss = alone["peak_rss_B_per_vertex"]
    table.add("dag", f"peak RSS per vertex after building, {n}", f"{rss:,.0f} B", "≤ 500 B",
              rss <= 500)


def generation_area(table, args):
    """Issue 13 target 2: a 2,048-token generation's costing against its prefill's."""
    bench = binary(args.build, "benchmarks/helix_bench_dag")
    results = run_benchmark(bench, "^(prefill|generation)_costing$",
                            0.001 if args.smoke else args.min_time)
    prefill = results["prefill_costing"]["cpu_seconds"]
    generation = results["generation_costing"]["cpu_seconds"]
    table.add("generation", "costing a 2,048-token generation / its prefill (llama31_405b pp=16,tp=8)",
              f"{generation * 1e3:.1f} / {prefill * 1e3:.1f} ms = {generation / prefill:.2f}×",
              "≤ 2×", generation / prefill <= 2)


def executor_area(table, args):
    """Issue 13 target 3: sharded / reference ≤ 1.15, reference ≥ 0.7 of a bare GEMM's rate."""
    builds = [("default", args.build)] + ([("native", args.native_build)]
                                          if args.native_build else [])
    size = "seed" if args.smoke else "mid"
    for build_name, build in builds:
        bench = binary(build, "benchmarks/helix_bench_numerics")
        results = run_benchmark(bench, f"/{size}(/|$)",
                                0.001 if args.smoke else args.executor_min_time)
        for name, r in results.items():
            name = name.removesuffix("/manual_time")
            if name.startswith("reference_vs_gemm/"):
                ratio = r["reference_over_gemm"]
                table.add("executor", f"{build_name} {name}: reference / bare GEMM GFLOP/s",
                          f"{r['reference_GFLOPs']:.1f} / {r['gemm_GFLOPs']:.1f} = {ratio:.2f}",
                          "≥ 0.7", ratio >= 0.7)
            elif name.startswith("executor/"):
                ratio = r["sharded_over_reference"]
                table.add("executor", f"{build_name} {name}: sharded / reference",
                          f"{ratio:.2f} ({r['reference_s']:.2f} s)", "≤ 1.15", ratio <= 1.15)


def svg_height_points(path):
    match = re.search(r'<svg[^>]*\bheight="([0-9.]+)pt"', path.read_text())
    if not match:
        sys.exit(f"run_all: {path} has no height in points")
    return float(match.group(1))


def llama31_405b_file(folder, layers):
    """llama31_405b's sizes (helix's preset, Meta's config.json) with `layers` blocks."""
    path = folder / f"llama31_405b_{layers}.json"
    path.write_text(json.dumps({
        "name": "llama31_405b", "layers": layers, "hidden": 16384, "heads": 128, "kv_heads": 8,
        "head_dim": 128, "ffn_hidden": 53248, "mlp": "swiglu", "norm": "rmsnorm",
        "vocab": 128256, "batch": 1, "seq_len": 2048, "dtype": "bf16"}))
    return path


def views_area(table, args):
    """Issue 13 target 4: the seed defaults' views with SVGs against the same run without `dot`
    (benchmarks/views/run.py, which also reads every device cluster's place from the SVGs), and
    a 126-layer whole-model view against a 4-layer one."""
    deploy = binary(args.build, "examples/helix_deploy")
    if shutil.which("dot") is None:
        sys.exit("run_all: views: `dot` (Graphviz) is not on PATH")
    spec = importlib.util.spec_from_file_location("views_run", here / "views" / "run.py")
    views = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(views)
    views.deploy = str(deploy)
    views.rounds = 1 if args.smoke else args.view_runs
    found = views.main()
    cold, warm, without = found["cold"], found["warm"], found["no_dot"]
    table.add("views", "seed defaults with SVGs, fresh folder / without `dot` (medians)",
              f"{cold:.2f} / {without:.2f} s = {cold / without:.1f}× (CPU floor "
              f"{found['floor'] / without:.1f}×)", "≤ 1.5×", cold / without <= 1.5)
    table.add("views", "seed defaults with SVGs, rerun into the same folder / without `dot`",
              f"{warm:.2f} / {without:.2f} s = {warm / without:.1f}×", "≤ 1.5×",
              warm / without <= 1.5)
    table.add("views", "view SVGs with device clusters whose stages run in rank order",
              f"{found['clustered']} views, {len(found['wrong'])} stages or runs wrong",
              "none wrong", not found["wrong"])
    with tempfile.TemporaryDirectory(prefix="helix_views_") as scratch:
        scratch = pathlib.Path(scratch)
        heights = {}
        for layers in (4, 126):
            folder = scratch / f"model{layers}"
            run = subprocess.run([deploy, "--model-file", llama31_405b_file(scratch, layers),
                                  "--plan", "tp=8", "--views", "summary", "--no-verify", "--out",
                                  folder], capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"run_all: views: helix_deploy failed:\n{run.stderr}")
            svg = next(folder.glob("*complete*model*.svg"), None)
            if svg is None:
                sys.exit(f"run_all: views: no whole-model SVG in {folder}")
            heights[layers] = svg_height_points(svg)
        ratio = heights[126] / heights[4]
        table.add("views", "llama31_405b tp=8 whole-model SVG height, 126 layers / 4 layers",
                  f"{heights[126]:,.0f} / {heights[4]:,.0f} pt = {ratio:.2f}×",
                  "≤ 1.05× (as tall as 4 layers)", ratio <= 1.05)


def compile_area(table, args):
    """Issue 13 target 5: what issue 10 set, re-measured (compile_time/run.py)."""
    probes = ["eigen_boost_baseline.cpp", "plan_50.cpp", "include_helix.cpp"]
    env = dict(os.environ, ROUNDS=str(args.compile_rounds))
    run = subprocess.run([sys.executable, str(here / "compile_time" / "run.py"), *probes],
                         capture_output=True, text=True, env=env)
    if run.returncode != 0:
        sys.exit(f"run_all: compile_time/run.py failed:\n{run.stdout}{run.stderr}")
    rows = {}
    for line in run.stdout.splitlines()[1:]:
        fields = line.split()
        rows[fields[0]] = {"seconds": float(fields[1]), "cpu": float(fields[3])}
    plan_50 = rows["plan_50.cpp"]["seconds"]
    table.add("compile", "a TU of helix/plan.hpp checking 50 plans", f"{plan_50:.2f} s", "≤ 1.5 s",
              plan_50 <= 1.5)
    base, helix = rows["eigen_boost_baseline.cpp"]["cpu"], rows["include_helix.cpp"]["cpu"]
    table.add("compile", "helix/helix.hpp / Eigen/Dense + Boost.Graph (CPU time)",
              f"{helix:.2f} / {base:.2f} s = {helix / base:.2f}×", "≤ 1.5×", helix / base <= 1.5)


areas = {"dag": dag_area, "generation": generation_area, "executor": executor_area,
         "views": views_area, "compile": compile_area}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(root / "build"),
                        help="a build with -DHELIX_BUILD_BENCHMARKS=ON (default: build/)")
    parser.add_argument("--native-build", help="also run the executor benchmarks of this build "
                        "(-DHELIX_NATIVE=ON)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(areas),
                        help="areas not to run")
    parser.add_argument("--smoke", action="store_true",
                        help="each part once at its smallest size; nothing is judged")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="repetitions of each DAG benchmark, the median kept (default 3)")
    parser.add_argument("--min-time", type=float, default=2.0,
                        help="Google Benchmark's min time for the costing rows (default 2 s)")
    parser.add_argument("--executor-min-time", type=float, default=10.0,
                        help="the same for the executor rows, whose iterations take seconds and "
                        "alternate which side runs first (default 10 s)")
    parser.add_argument("--view-runs", type=int, default=5, help="rounds of the views' runs, the "
                        "median kept (default 5)")
    parser.add_argument("--compile-rounds", type=int, default=3,
                        help="ROUNDS for compile_time/run.py (default 3)")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    if args.smoke:
        args.skip = list(set(args.skip) | {"compile"})

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; build {args.build}", flush=True)
    table = Table(args.smoke)
    for name, area in areas.items():
        if name not in args.skip:
            print(f"{name}:", flush=True)
            area(table, args)
    text = table.markdown()
    print()
    print(text)
    if args.markdown:
        target = pathlib.Path(args.markdown)
        scratch = target.with_name(f".{target.name}.tmp{os.getpid()}")
        scratch.write_text(text + "\n")
        os.replace(scratch, target)


if __name__ == "__main__":
    main()
