"""Speed of the agreement module beside the `krippendorff` package, on the same data.

    python scripts/bench_agreement.py [--units 100000] [--coders 10] [--bootstrap 1000]

Data: `units` x `coders` nominal codings in 4 categories (80% of codings follow a latent truth),
30% of cells missing. Times Krippendorff's alpha (point estimate) in Loupe and in the
`krippendorff` package, and Loupe's alpha, Fleiss' kappa and Gwet's AC1 each with a
`bootstrap`-sample interval. The package has no bootstrap: its time for one alpha times the
number of resamples is printed as what a bootstrap with it would cost. Prints a table and writes
bench-results/agreement.json.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table


def main(
    units: int = typer.Option(100_000),
    coders: int = typer.Option(10),
    bootstrap: int = typer.Option(1000),
    missing: float = typer.Option(0.3),
    seed: int = typer.Option(0),
    out: Path = typer.Option(Path("bench-results")),
) -> None:
    import krippendorff

    from eval.agreement import krippendorff_alpha
    from eval.intervals import estimate

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, units)
    data = np.where(rng.random((units, coders)) < 0.8, truth[:, None], rng.integers(0, 4, (units, coders))).astype(float)
    data[rng.random((units, coders)) < missing] = np.nan

    def timed(fn):
        t0 = time.perf_counter()
        value = fn()
        return value, time.perf_counter() - t0

    ours, t_ours = timed(lambda: krippendorff_alpha(data, "nominal"))
    theirs, t_theirs = timed(lambda: krippendorff.alpha(reliability_data=data.T, level_of_measurement="nominal"))
    rows = [
        ("alpha, point estimate", "loupe", t_ours, ours),
        ("alpha, point estimate", "krippendorff package", t_theirs, theirs),
    ]
    for metric in ("krippendorff", "fleiss", "gwet"):
        est, t = timed(lambda m=metric: estimate(data, m, n_boot=bootstrap, seed=seed))
        rows.append((f"{metric} + {bootstrap} bootstrap", "loupe", t, est.value))
    rows.append((f"alpha x {bootstrap} (a bootstrap with the package)", "krippendorff package (extrapolated)", t_theirs * bootstrap, theirs))

    console = Console()
    table = Table(title=f"Agreement on {units:,} units x {coders} coders, {missing:.0%} missing ({os.cpu_count()} CPUs)")
    for col in ("what", "implementation", "seconds", "value"):
        table.add_column(col)
    for what, impl, t, v in rows:
        table.add_row(what, impl, f"{t:.2f}", f"{v:.4f}")
    console.print(table)
    assert abs(ours - theirs) < 1e-9, (ours, theirs)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "units": units, "coders": coders, "missing": missing, "bootstrap": bootstrap,
        "rows": [{"what": w, "implementation": i, "seconds": round(t, 3), "value": v} for w, i, t, v in rows],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    (out / "agreement.json").write_text(json.dumps(record, indent=2))
    console.print(f"wrote {out / 'agreement.json'}")


if __name__ == "__main__":
    typer.run(main)
