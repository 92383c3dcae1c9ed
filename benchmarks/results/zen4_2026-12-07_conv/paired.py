"""Summarise lockstep_ab_output.txt round by round (the A/B's rounds are paired: the two
versions ran one after the other in each). Prints, per run, the median over rounds of
free / lockstep and how many rounds the free version was faster. Prints only.
    python benchmarks/results/zen4_2026-12-07_conv/paired.py
"""

import re
import statistics
from pathlib import Path

RUN = re.compile(r"(\S+) float32, medians of (\d+) rounds\n"
                 r"\s+lockstep .*?\((.*?)\)\n\s+free .*?\((.*?)\)")


def main():
    text = (Path(__file__).resolve().parent / "lockstep_ab_output.txt").read_text()
    wins = rounds = 0
    for size, count, lockstep, free in RUN.findall(text):
        pairs = [(float(a), float(b)) for a, b in zip(lockstep.split(","), free.split(","))]
        ratios = [b / a for a, b in pairs]
        faster = sum(r < 1 for r in ratios)
        wins, rounds = wins + faster, rounds + len(pairs)
        print(f"{size} ({count} rounds): free / lockstep, median of the paired rounds "
              f"{statistics.median(ratios):.3f}; free faster in {faster}")
    print(f"all runs: free faster in {wins} of {rounds} rounds")


if __name__ == "__main__":
    main()
