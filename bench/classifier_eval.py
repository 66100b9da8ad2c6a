#!/usr/bin/env python3
"""Offline evaluation of core.agent.classifier: router metrics, labelled-set accuracy, speed.

1. QUICK-vs-COMPLEX as a weak/strong router on the shared RouteLLM outcome data (GSM8K,
   MMLU, MT-Bench): `complexity_score` is the router score; APGR (grid mean and
   trapezoid), CPT(50%) and CPT(80%), next to the prompt-length baseline and random.
   GSM8K and MMLU are also split in halves by a hash of the prompt: the tuned weights in
   FEATURE_WEIGHTS were chosen on the "tune" half only, so "held-out" is the honest figure.
2. 3-class accuracy, confusion matrix and confidence calibration on data/labelled_prompts.jsonl,
   plus the quantile-calibrated QUICK/COMPLEX threshold.
3. Mean time per classify() call over every GSM8K+MMLU prompt.

Usage (from the project root):
    python bench/classifier_eval.py [--data DIR] [--steps 100] [--labelled FILE]
The data folder is --data, else $SPACES_OS_SHARED_DATA, else ../shared/data/routellm.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `core` importable
    sys.path.insert(0, str(ROOT))

from core.agent.classifier import DEFAULT_COMPLEX_THRESHOLD, Label, classify, complexity_score  # noqa: E402
from core.agent.routing_eval import (  # noqa: E402
    DATA_ENV_VAR,
    DEFAULT_STEPS,
    OutcomeSet,
    RouterMetrics,
    evaluate_router,
    load_correctness,
    load_mt_bench,
    quantile_threshold,
    resolve_data_dir,
)

LABELLED = ROOT / "data" / "labelled_prompts.jsonl"
ROUTERS: dict[str, Callable[[str], float]] = {
    "classifier": complexity_score,
    "length": lambda prompt: float(len(prompt)),  # the shared baseline: characters
    "random": lambda prompt: 0.0,  # all tied: expected-value tie-breaking gives PGR(s) = s
}
CONFIDENCE_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)


def tuning_half(prompt: str) -> int:
    """0 for the half the weights were tuned on, 1 for the held-out half.

    Hashing the prompt text (not the row id) keeps MMLU's duplicated prompts on one side.
    """
    return zlib.crc32(prompt.encode("utf-8")) % 2


def splits(data: OutcomeSet, split: bool) -> list[tuple[str, OutcomeSet]]:
    if not split:
        return [("all", data)]
    halves = [tuning_half(p) for p in data.prompts]
    return [
        ("tune", data.subset([h == 0 for h in halves], data.name)),
        ("held-out", data.subset([h == 1 for h in halves], data.name)),
        ("all", data),
    ]


def router_report(data_dir: Path, steps: int) -> list[tuple[str, str, str, int, RouterMetrics, float, float]]:
    """Rows of (dataset, split, router, n, metrics, weak mean, strong mean)."""
    rows = []
    sets = [
        (load_correctness(data_dir / "gsm8k.jsonl"), True),
        (load_correctness(data_dir / "mmlu.jsonl"), True),
        (load_mt_bench(data_dir / "mt_bench.jsonl"), False),
    ]
    for data, split in sets:
        for split_name, part in splits(data, split):
            n = len(part.prompts)
            weak, strong = sum(part.weak) / n, sum(part.strong) / n
            for router, score in ROUTERS.items():
                metrics = evaluate_router([score(p) for p in part.prompts], part.weak, part.strong, steps)
                rows.append((data.name, split_name, router, n, metrics, weak, strong))
    return rows


def print_router_table(rows: list, steps: int) -> None:
    print(f"## Router metrics (strong-call share grid: {steps} steps)")
    print("MT-Bench: routed per question on turn 1; quality = mean of the two turn scores (1-10).")
    header = (f"{'dataset':9} {'split':9} {'router':10} {'n':>6} {'weak':>6} {'strong':>6} "
              f"{'APGR':>7} {'APGR_trap':>9} {'CPT50':>6} {'CPT80':>6} {'ours/len':>8}")
    print(header)
    print("-" * len(header))
    length = {(d, s): m.apgr for d, s, r, _, m, _, _ in rows if r == "length"}
    for dataset, split, router, n, m, weak, strong in rows:
        ratio = f"{m.apgr / length[dataset, split]:8.3f}" if router == "classifier" else ""
        print(f"{dataset:9} {split:9} {router:10} {n:6d} {weak:6.3f} {strong:6.3f} {m.apgr:7.4f} "
              f"{m.apgr_trapezoid:9.4f} {m.cpt50:6.0%} {m.cpt80:6.0%} {ratio}")
    print()


HELD_OUT_PREFIX = "ho-"  # rows written after the rules were frozen; never used to change them


def labelled_report(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = [(row, classify(row["prompt"])) for row in rows]
    labels = [label.value for label in Label]
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"## Labelled prompts ({shown}, n={len(rows)}: {dict(Counter(r['label'] for r in rows))})")
    held_out = [(row, c) for row, c in results if row["id"].startswith(HELD_OUT_PREFIX)]
    dev = [(row, c) for row, c in results if not row["id"].startswith(HELD_OUT_PREFIX)]
    for name, part in (("development rows", dev), ("held-out rows", held_out), ("all rows", results)):
        if part:
            correct = sum(row["label"] == c.label for row, c in part)
            print(f"3-class accuracy, {name:16}: {correct / len(part):.3f} ({correct}/{len(part)})")

    print("confusion, all rows (rows = true label, columns = predicted):")
    print(f"{'':10}" + "".join(f"{label:>9}" for label in labels))
    pairs = Counter((row["label"], c.label.value) for row, c in results)
    for truth in labels:
        print(f"{truth:10}" + "".join(f"{pairs[truth, pred]:9d}" for pred in labels))
    print_calibration(results)

    # The threshold was calibrated on the development rows (see DEFAULT_COMPLEX_THRESHOLD).
    not_urgent = [(row, c) for row, c in dev if row["label"] != Label.URGENT]
    share = sum(row["label"] == Label.COMPLEX for row, _ in not_urgent) / len(not_urgent)
    calibrated = quantile_threshold([c.complexity for _, c in not_urgent], share)
    predicted = sum(c.complexity >= DEFAULT_COMPLEX_THRESHOLD for _, c in not_urgent) / len(not_urgent)
    print(f"threshold: COMPLEX share among non-URGENT development rows {share:.3f}; quantile-calibrated "
          f"threshold {calibrated:.3f}; DEFAULT_COMPLEX_THRESHOLD {DEFAULT_COMPLEX_THRESHOLD:.3f} "
          f"routes {predicted:.3f} of them COMPLEX")
    for row, c in results:
        if row["label"] != c.label:
            print(f"  miss {row['id']}: {row['label']} -> {c.label.value} ({c.confidence:.2f}); "
                  f"{'; '.join(c.reasons[:3])}")
    print()


def print_calibration(results: list) -> None:
    print("calibration, all rows (accuracy per confidence bucket):")
    gap = 0.0
    for lo, hi in zip(CONFIDENCE_BUCKETS, CONFIDENCE_BUCKETS[1:], strict=False):
        bucket = [(row, c) for row, c in results if lo <= c.confidence < hi]
        if not bucket:
            print(f"  [{lo:.1f}, {min(hi, 1.0):.1f}]  n=  0")
            continue
        mean_conf = sum(c.confidence for _, c in bucket) / len(bucket)
        accuracy = sum(row["label"] == c.label for row, c in bucket) / len(bucket)
        gap += len(bucket) * abs(mean_conf - accuracy)
        print(f"  [{lo:.1f}, {min(hi, 1.0):.1f}]  n={len(bucket):3d}  mean confidence {mean_conf:.3f}  "
              f"accuracy {accuracy:.3f}")
    below = [c for _, c in results if c.confidence < CONFIDENCE_BUCKETS[0]]
    if below:
        print(f"  below 0.5: n={len(below)}")
    print(f"  expected calibration error: {gap / len(results):.3f}")


def timing_report(prompts: list[str]) -> None:
    classify(prompts[0])  # warm up
    start = time.perf_counter()
    for prompt in prompts:
        classify(prompt)
    mean_us = (time.perf_counter() - start) / len(prompts) * 1e6
    print(f"## Speed: classify() mean {mean_us:.0f} µs per prompt over {len(prompts)} GSM8K+MMLU prompts "
          f"(target < 1000 µs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=f"folder with gsm8k.jsonl etc. (default: ${DATA_ENV_VAR} or "
                                       "../shared/data/routellm)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="strong-call share grid steps")
    parser.add_argument("--labelled", type=Path, default=LABELLED, help="labelled prompts JSONL")
    args = parser.parse_args(argv)

    data_dir = resolve_data_dir(args.data, os.environ, ROOT)
    if data_dir is None:
        print(f"shared data not found: pass --data DIR or set {DATA_ENV_VAR}", file=sys.stderr)
    else:
        print(f"data: {data_dir}\n")
        print_router_table(router_report(data_dir, args.steps), args.steps)
    labelled_report(args.labelled)
    if data_dir is not None:
        prompts = load_correctness(data_dir / "gsm8k.jsonl").prompts
        prompts += load_correctness(data_dir / "mmlu.jsonl").prompts
        timing_report(prompts)
    return 0 if data_dir is not None else 1


if __name__ == "__main__":
    sys.exit(main())
