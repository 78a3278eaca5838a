#!/usr/bin/env python3
"""failover-report.py — the plots of a samsa-failover-bench report.

    tools/failover-report.py DIR

DIR is what `samsa-failover-bench --scenarios ... --report DIR` wrote:
rounds.csv (one row per round), partitions.csv (one row per partition and
round) and acks.csv (acknowledgements per second since the producer
started). Writes into DIR:

  acks.png               acknowledgements a second, each round's failure
                         (T0) marked and labelled with its scenario;
  unavailability-cdf.png per scenario, the distribution over partitions
                         and rounds of how long a partition took no write;
  phases.png             per round, detection, election, propagation and
                         client recovery stacked (each bar the time from
                         the previous phase; a phase not measured adds 0).

The bench runs it when plotting is not turned off (--no-plots); it can be
run again by hand on a kept report. Needs Debian's python3-matplotlib.
Exit status: 0, 1 when a file is missing or malformed, 2 on usage.
"""
import csv
import os
import sys

ROUND_COLUMNS = ["scenario", "round", "target", "t0_ms", "detection_ms", "election_ms", "propagation_ms",
                 "recovery_ms", "ours_ms", "unavail_p50_ms", "unavail_p99_ms", "unavail_max_ms",
                 "calm_gap_p99_ms", "consumer_gap_p99_ms", "consumer_gap_max_ms", "leaders_moved", "deregistered",
                 "failed", "errors", "lost", "done"]
PARTITION_COLUMNS = ["scenario", "round", "partition", "unavailable_ms", "consumer_gap_ms"]
ACK_COLUMNS = ["second", "acks"]
PHASES = [("detection_ms", "detection"), ("election_ms", "election"), ("propagation_ms", "propagation"),
          ("recovery_ms", "client recovery")]


def read_csv(path, columns):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns:
            raise ValueError("%s: columns %s, expected %s" % (path, reader.fieldnames, columns))
        return list(reader)


def plot_acks(plt, rounds, acks, out):
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot([int(a["second"]) for a in acks], [int(a["acks"]) for a in acks], linewidth=0.8)
    top = max([int(a["acks"]) for a in acks] + [1])
    for r in rounds:
        t = int(r["t0_ms"]) / 1000.0
        ax.axvline(t, color="red", linewidth=0.6, alpha=0.6)
        ax.text(t, top, " %s %s" % (r["scenario"], r["round"]), rotation=90, va="top", fontsize=6)
    ax.set_xlabel("seconds since the producer started")
    ax.set_ylabel("acknowledgements / s")
    ax.set_title("acks=all acknowledgements a second; red: a failure (T0)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_cdf(plt, partitions, out):
    by_scenario = {}
    for p in partitions:
        v = int(p["unavailable_ms"])
        if v >= 0:
            by_scenario.setdefault(p["scenario"], []).append(v)
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, values in sorted(by_scenario.items()):
        values.sort()
        n = len(values)
        ax.step(values, [(i + 1) / n for i in range(n)], where="post", label="%s (%d)" % (name, n))
    ax.set_xlabel("unavailability of a partition (ms): last ack before T0 to first after")
    ax.set_ylabel("fraction of partition-rounds")
    ax.set_ylim(0, 1.01)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("per-partition unavailability, CDF")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_phases(plt, rounds, out):
    labels = ["%s %s" % (r["scenario"], r["round"]) for r in rounds]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(rounds) + 2), 5))
    bottoms = [0] * len(rounds)
    for key, name in PHASES:
        heights = []
        for i, r in enumerate(rounds):
            v = int(r[key])
            # stacked: each phase from the end of the previous one
            h = max(v - bottoms[i], 0) if v >= 0 else 0
            heights.append(h)
        ax.bar(range(len(rounds)), heights, bottom=bottoms, label=name)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    ax.set_xticks(range(len(rounds)))
    ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.set_ylabel("ms after T0")
    ax.legend(fontsize=8)
    ax.set_title("phases per round (detection is the session timeout's)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        print("usage: failover-report.py DIR (a samsa-failover-bench --report folder)", file=sys.stderr)
        return 2
    d = argv[1]
    try:
        rounds = read_csv(os.path.join(d, "rounds.csv"), ROUND_COLUMNS)
        partitions = read_csv(os.path.join(d, "partitions.csv"), PARTITION_COLUMNS)
        acks = read_csv(os.path.join(d, "acks.csv"), ACK_COLUMNS)
    except (OSError, ValueError) as e:
        print("failover-report.py: %s" % e, file=sys.stderr)
        return 1
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("failover-report.py: matplotlib is missing (Debian: apt-get install python3-matplotlib)",
              file=sys.stderr)
        return 1
    plot_acks(plt, rounds, acks, os.path.join(d, "acks.png"))
    plot_cdf(plt, partitions, os.path.join(d, "unavailability-cdf.png"))
    plot_phases(plt, rounds, os.path.join(d, "phases.png"))
    print("plots: %s" % ", ".join(os.path.join(d, n) for n in ("acks.png", "unavailability-cdf.png", "phases.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
