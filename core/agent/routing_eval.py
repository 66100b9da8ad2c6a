"""Offline router metrics: PGR curve, APGR and CPT on cached weak/strong outcomes.

Pure functions, standard library only, so the bench script and the tests share one
implementation. The method follows the shared data README (and length_baseline.py):
sweep the strong-call share over a grid, send the highest-scoring prompts to the strong
model, and resolve cuts inside a group of tied scores by their expected value under
random tie-breaking, so every figure is deterministic.

Example:
    >>> curve = pgr_curve([0.9, 0.1], weak=[0, 1], strong=[1, 1], steps=2)
    >>> summarize(curve).apgr
    0.6666666666666666
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

DEFAULT_STEPS = 100
DATA_ENV_VAR = "SPACES_OS_SHARED_DATA"


@dataclass(frozen=True)
class RouterMetrics:
    """Summary of one router's PGR curve: APGR two ways and the cost to reach a quality."""

    apgr: float  # mean PGR over the grid (the README's headline figure)
    apgr_trapezoid: float  # RouteLLM's integration; differs only in the endpoint weights
    cpt50: float  # smallest grid share with PGR >= 0.5 (nan if never reached)
    cpt80: float


def pgr_curve(
    scores: Sequence[float],
    weak: Sequence[float],
    strong: Sequence[float],
    steps: int = DEFAULT_STEPS,
) -> list[tuple[float, float]]:
    """(strong-call share, PGR) at steps + 1 evenly spaced shares from 0 to 1.

    `weak` / `strong` are per-prompt qualities (0/1 correctness or judge scores); higher
    `scores` mean "send to the strong model first". Raises ValueError when the two models
    have the same mean quality, because PGR is undefined then.
    """
    n = len(scores)
    if n == 0 or len(weak) != n or len(strong) != n:
        raise ValueError("scores, weak and strong must be non-empty and of equal length")
    if steps < 1:
        raise ValueError("steps must be >= 1")
    weak_mean, strong_mean = sum(weak) / n, sum(strong) / n
    gap = strong_mean - weak_mean
    if gap == 0:
        raise ValueError("weak and strong have the same mean quality: PGR is undefined")

    # Groups of equal score, highest first, as (size, summed gain of going strong).
    groups: list[tuple[int, float]] = []
    last = None
    for i in sorted(range(n), key=lambda i: -scores[i]):
        gain = strong[i] - weak[i]
        if groups and scores[i] == last:
            size, total = groups[-1]
            groups[-1] = (size + 1, total + gain)
        else:
            groups.append((1, gain))
            last = scores[i]
    ends = list(accumulate(size for size, _ in groups))  # prompts routed once group j is taken
    gains = list(accumulate(total for _, total in groups))

    curve = []
    for k in range(steps + 1):
        calls = int(k * n / steps + 0.5)  # halves round up, as in length_baseline.py
        j = bisect.bisect_left(ends, calls)  # first group not fully taken
        full = gains[j - 1] if j > 0 else 0.0
        partial = 0.0
        if j < len(groups):
            taken = calls - (ends[j - 1] if j > 0 else 0)
            size, total = groups[j]
            partial = total * taken / size
        curve.append((k / steps, (full + partial) / n / gap))
    return curve


def apgr(curve: Sequence[tuple[float, float]]) -> float:
    """Mean PGR over the grid points (0.5 for a random router in expectation)."""
    return sum(p for _, p in curve) / len(curve)


def apgr_trapezoid(curve: Sequence[tuple[float, float]]) -> float:
    """Trapezoid area under the PGR curve, RouteLLM's way of averaging."""
    pgrs = [p for _, p in curve]
    return sum((a + b) / 2 for a, b in zip(pgrs, pgrs[1:], strict=False)) / (len(pgrs) - 1)


def cpt(curve: Sequence[tuple[float, float]], quality: float) -> float:
    """Smallest grid share whose PGR reaches `quality` (e.g. 0.5); nan if none does."""
    return next((s for s, p in curve if p >= quality), float("nan"))


def summarize(curve: Sequence[tuple[float, float]]) -> RouterMetrics:
    """APGR (mean and trapezoid), CPT(50%) and CPT(80%) of one curve."""
    return RouterMetrics(apgr(curve), apgr_trapezoid(curve), cpt(curve, 0.5), cpt(curve, 0.8))


def evaluate_router(
    scores: Sequence[float],
    weak: Sequence[float],
    strong: Sequence[float],
    steps: int = DEFAULT_STEPS,
) -> RouterMetrics:
    """Score a router in one call: curve, then summary."""
    return summarize(pgr_curve(scores, weak, strong, steps))


@dataclass(frozen=True)
class OutcomeSet:
    """Prompts with the weak and strong model's quality on each (correctness or judge score)."""

    name: str
    prompts: list[str]
    weak: list[float]
    strong: list[float]

    def subset(self, keep: Sequence[bool], name: str) -> OutcomeSet:
        """The rows where `keep` is true, e.g. one half of a split."""
        rows = [i for i, k in enumerate(keep) if k]
        return OutcomeSet(
            name,
            [self.prompts[i] for i in rows],
            [self.weak[i] for i in rows],
            [self.strong[i] for i in rows],
        )


def resolve_data_dir(
    explicit: str | None, env: Mapping[str, str], project_root: Path
) -> Path | None:
    """The shared `routellm/` folder: --data, else $SPACES_OS_SHARED_DATA, else <root>/../shared.

    Each candidate may point at the `routellm/` folder itself or at a folder holding it
    (`shared/data` or `shared`). Returns None when nothing is found, so callers can skip.
    """
    candidates = [explicit] if explicit else []
    if env.get(DATA_ENV_VAR):
        candidates.append(env[DATA_ENV_VAR])
    candidates.append(str(project_root.parent / "shared"))
    for candidate in candidates:
        base = Path(candidate)
        for folder in (base, base / "routellm", base / "data" / "routellm"):
            if (folder / "gsm8k.jsonl").is_file():
                return folder
    return None


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_correctness(path: Path) -> OutcomeSet:
    """gsm8k.jsonl / mmlu.jsonl: one prompt per row, weak/strong correctness as 0/1."""
    rows = _read_jsonl(path)
    return OutcomeSet(
        path.stem,
        [r["prompt"] for r in rows],
        [float(r["weak_correct"]) for r in rows],
        [float(r["strong_correct"]) for r in rows],
    )


def load_mt_bench(path: Path) -> OutcomeSet:
    """mt_bench.jsonl routed per question on its turn-1 prompt, as RouteLLM does.

    The routed model answers both turns, so a question's quality is the mean of its two
    turn scores for that model.
    """
    turns: dict[int, dict[int, dict]] = defaultdict(dict)
    for row in _read_jsonl(path):
        turns[row["question_id"]][row["turn"]] = row
    ids = sorted(turns)
    return OutcomeSet(
        path.stem,
        [turns[q][1]["prompt"] for q in ids],
        [sum(t["weak_score"] for t in turns[q].values()) / len(turns[q]) for q in ids],
        [sum(t["strong_score"] for t in turns[q].values()) / len(turns[q]) for q in ids],
    )


def quantile_threshold(scores: Sequence[float], strong_share: float) -> float:
    """Score threshold that sends about `strong_share` of these prompts to the strong tier.

    RouteLLM's calibration: the (1 - share) quantile of the scores, here the midpoint
    between the two sorted scores either side of the cut, so the share is met exactly when
    those two differ.
    """
    if not scores:
        raise ValueError("no scores to calibrate on")
    ordered = sorted(scores)
    n = len(ordered)
    cut = min(max(round(n * (1 - strong_share)), 0), n)  # prompts that stay on the weak tier
    if cut == 0:
        return ordered[0]
    if cut == n:
        return ordered[-1] + 1e-9
    return (ordered[cut - 1] + ordered[cut]) / 2
