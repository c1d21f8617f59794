#!/usr/bin/python3
"""Compile-time probes, measured side by side.

Each probe TU is compiled as a user would,
    nice -n 10 /usr/bin/time -f "%e s %M KB" g++ -std=c++20 -O2 -Iinclude -I/usr/include/eigen3 -c X.cpp -o /dev/null
ROUNDS times (default 3), round-robin over the probes so that a change in the machine's load hits
them all alike; the minimum elapsed time is kept, with the peak memory and CPU time of that run and
the ratio to eigen_boost_baseline.cpp (only <Eigen/Dense> and Boost.Graph's adjacency_list and
topological_sort).

Usage, from anywhere:  benchmarks/compile_time/run.py [probe.cpp[=INCLUDE_DIR] ...]
Environment: CXX (default g++), ROUNDS (3), HELIX_INCLUDE (the worktree's include/).
`probe.cpp=DIR` compiles the probe against another helix include/ (e.g. an old commit's, from
`git archive OLD include | tar -x -C /tmp/old`) in the same round-robin, for before/after.
"""
import os
import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
root = here.parent.parent
cxx = os.environ.get("CXX", "g++")
rounds = int(os.environ.get("ROUNDS", "3"))
include = os.environ.get("HELIX_INCLUDE", str(root / "include"))
probes = sys.argv[1:] or ["eigen_boost_baseline.cpp", "include_model.cpp", "include_plan.cpp",
                          "include_graph.cpp", "include_cost.cpp", "include_io.cpp",
                          "include_numerics.cpp", "include_helix.cpp"]


def measure(spec):
    probe, _, helix_include = spec.partition("=")
    command = ["nice", "-n", "10", "/usr/bin/time", "-f", "%e %M %U %S", cxx, "-std=c++20", "-O2",
               f"-I{helix_include or include}", "-I/usr/include/eigen3", "-c", str(here / probe),
               "-o", os.devnull]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{spec} does not compile:\n{run.stderr}")
    elapsed, kb, user, system = run.stderr.strip().splitlines()[-1].split()
    return float(elapsed), int(kb), float(user) + float(system)


best = {}
for _ in range(rounds):
    for probe in probes:
        result = measure(probe)
        if probe not in best or result[0] < best[probe][0]:
            best[probe] = result
base = best.get("eigen_boost_baseline.cpp")
print(f"{'probe':40} {'seconds':>8} {'peak KB':>9} {'cpu s':>6} {'ratio':>6} {'cpu ratio':>9}")
for probe in probes:
    elapsed, kb, cpu = best[probe]
    ratio = f"{elapsed / base[0]:.2f}" if base else "-"
    cpu_ratio = f"{cpu / base[2]:.2f}" if base else "-"
    label = probe.replace("=", " with ")[-40:]
    print(f"{label:40} {elapsed:8.2f} {kb:9d} {cpu:6.2f} {ratio:>6} {cpu_ratio:>9}")
