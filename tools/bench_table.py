#!/usr/bin/env python3
"""Prints the table of `make bench-peers`: for each system and load step, the
median over rounds of throughput, latencies, server CPU and peak memory, and
the ratios of nrmbus against each peer. Reads CSV files written by nrm-bench
and nrm-bench-peer (the same format); writes the median rows as CSV too.

  bench_table.py OUT/table.md OUT/medians.csv FILE.csv...
"""
import csv
import statistics
import sys

NUM = ("throughput_per_s", "accept_p50_ms", "accept_p99_ms", "inbox_p50_ms",
       "inbox_p99_ms", "handoff_p50_ms", "handoff_p99_ms", "handoff_p999_ms",
       "server_cpu_pct", "server_rss_kib")


def load(paths):
    rows, header = [], None
    for p in paths:
        with open(p, newline="") as f:
            r = csv.reader(f)
            h = next(r)
            if header is None:
                header = h
            elif h != header:
                sys.exit(f"bench_table: {p}: header differs from the first file's")
            for n, line in enumerate(r, start=2):
                if len(line) != len(header):
                    sys.exit(f"bench_table: {p}:{n}: {len(line)} fields, not {len(header)}")
                rows.append(dict(zip(header, line)))
    return header, rows


def order(load):
    return (0, 0) if load == "single" else (2, 0) if load == "max" else (1, float(load))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    md_path, med_path, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    header, rows = load(paths)
    groups = {}
    for r in rows:
        groups.setdefault((r["system"], r["load"]), []).append(r)
    systems = sorted({s for s, _ in groups}, key=lambda s: (s != "nrmbus", s))
    loads = sorted({l for _, l in groups}, key=order)
    med = {}
    with open(med_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for s in systems:
            for l in loads:
                g = groups.get((s, l))
                if not g:
                    continue
                m = dict(g[0])
                m["round"] = str(len(g))     # rounds the median is over
                for k in header:
                    if k not in ("system", "load", "round"):
                        m[k] = "%.3f" % statistics.median(float(x[k]) for x in g)
                med[(s, l)] = m
                w.writerow([m[k] for k in header])

    out = []
    out.append("| system | load | rounds | handoffs/s | accept p50 / p99 ms | inbox p50 / p99 ms "
               "| handoff p50 / p99 / p99.9 ms | server CPU % | server peak RSS MiB |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for s in systems:
        for l in loads:
            m = med.get((s, l))
            if m is None:
                continue
            f = {k: float(m[k]) for k in NUM}
            out.append(f"| {s} | {l} | {m['round']} | {f['throughput_per_s']:.0f} "
                       f"| {f['accept_p50_ms']:.2f} / {f['accept_p99_ms']:.2f} "
                       f"| {f['inbox_p50_ms']:.2f} / {f['inbox_p99_ms']:.2f} "
                       f"| {f['handoff_p50_ms']:.2f} / {f['handoff_p99_ms']:.2f} / "
                       f"{f['handoff_p999_ms']:.2f} | {f['server_cpu_pct']:.0f} "
                       f"| {f['server_rss_kib'] / 1024:.0f} |")
    out.append("")
    peers = [s for s in systems if s != "nrmbus"]
    if "nrmbus" in systems and peers:
        out.append("Ratios, nrmbus / peer (medians): throughput at `max` (above 1: nrmbus "
                   "is faster); handoff latency p50 and p99 with one message in flight "
                   "(`single`) and at each fixed load (below 1: nrmbus is faster).")
        out.append("")
        out.append("| peer | throughput at max | " + " | ".join(
            f"p50 / p99 at {l}" for l in loads if l != "max") + " |")
        out.append("|---|---|" + "---|" * len([l for l in loads if l != "max"]))
        for p in peers:
            cells = []
            a, b = med.get(("nrmbus", "max")), med.get((p, "max"))
            cells.append("%.2f" % (float(a["throughput_per_s"]) / float(b["throughput_per_s"]))
                         if a and b and float(b["throughput_per_s"]) > 0 else "-")
            for l in loads:
                if l == "max":
                    continue
                a, b = med.get(("nrmbus", l)), med.get((p, l))
                if a and b and float(b["handoff_p50_ms"]) > 0 and float(b["handoff_p99_ms"]) > 0:
                    cells.append("%.1f / %.1f" % (
                        float(a["handoff_p50_ms"]) / float(b["handoff_p50_ms"]),
                        float(a["handoff_p99_ms"]) / float(b["handoff_p99_ms"])))
                else:
                    cells.append("-")
            out.append(f"| {p} | " + " | ".join(cells) + " |")
        out.append("")
    text = "\n".join(out)
    with open(md_path, "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
