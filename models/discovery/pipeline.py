"""Discovery end to end on arrays: cluster, describe, measure coverage, project to 2-D.

Callers bring the embeddings, texts, document and speaker of each segment, and the codes each
segment already carries (accepted, or scored above the threshold); the service and the CLI do
that from a project or from files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.discovery.clustering import ClusterConfig, Clustering, cluster_embeddings
from models.discovery.describe import ClusterInfo, apply_coverage, describe_clusters
from models.discovery.projection import map_points, project_2d, save_map_png


@dataclass(frozen=True)
class DiscoveryConfig:
    clustering: ClusterConfig = field(default_factory=ClusterConfig)
    coverage_threshold: float = 0.5  # clusters whose coverage is below this are candidate codes
    projection: str = "pca"  # pca | umap (needs umap-learn)
    n_keywords: int = 8
    n_representatives: int = 5


@dataclass
class Discovery:
    clustering: Clustering
    clusters: list[ClusterInfo]
    xy: np.ndarray
    projection: str
    top_codes: list[str | None]

    @property
    def candidates(self) -> list[ClusterInfo]:
        return [c for c in self.clusters if c.candidate]


def top_code_per_row(carried: list[set[str]], scores: np.ndarray | None, codes: list[str], n: int) -> list[str | None]:
    """The code to colour each segment by: its highest-scoring carried code, else any carried one."""
    out: list[str | None] = []
    col = {c: j for j, c in enumerate(codes)}
    for i in range(n):
        have = carried[i] if i < len(carried) else set()
        if not have:
            out.append(None)
        elif scores is not None:
            out.append(max(have, key=lambda c: (scores[i, col[c]] if c in col else 2.0, c)))
        else:
            out.append(sorted(have)[0])
    return out


def discover(vectors: np.ndarray, texts: list[str], documents: list[str], speakers: list[str | None], carried: list[set[str]],
             config: DiscoveryConfig = DiscoveryConfig(), *, scores: np.ndarray | None = None, codes: list[str] | None = None) -> Discovery:
    clustering = cluster_embeddings(vectors, config.clustering)
    clusters = describe_clusters(clustering, vectors, texts, documents, speakers,
                                 n_keywords=config.n_keywords, n_representatives=config.n_representatives)
    apply_coverage(clusters, carried, texts, coverage_threshold=config.coverage_threshold)
    xy, used = project_2d(vectors, config.projection, seed=config.clustering.seed)
    return Discovery(clustering, clusters, xy, used, top_code_per_row(carried, scores, codes or [], len(texts)))


def cluster_record(c: ClusterInfo, ids: Sequence[object], texts: list[str]) -> dict[str, Any]:
    """A JSON-ready description of one cluster; segments are named by `ids`."""
    return {
        "label": c.label, "size": c.size, "keywords": [[w, s] for w, s in c.keywords],
        "representatives": [{"id": ids[i], "text": texts[i]} for i in c.representatives],
        "documents": c.documents, "speakers": c.speakers, "coverage": round(c.coverage, 4),
        "codes": [[code, n] for code, n in c.codes], "candidate": c.candidate, "name": c.name, "definition": c.definition,
        "members": [ids[i] for i in c.members],
    }


def write_outputs(d: Discovery, out: str | Path, ids: Sequence[object], texts: list[str], *, title: str = "Segments",
                  naming: dict[int, dict[str, Any]] | None = None) -> dict[str, Path]:
    """clusters.json, candidates.json, map.json and map.png in `out`."""
    import json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = [cluster_record(c, ids, texts) | {"naming": (naming or {}).get(c.label, {"by": "keywords"})} for c in d.clusters]
    summary = {"method": d.clustering.method, "params": d.clustering.params, "n_segments": len(ids),
               "n_clusters": d.clustering.n_clusters, "noise": int((d.clustering.labels < 0).sum()), "projection": d.projection}
    paths = {name: out / name for name in ("clusters.json", "candidates.json", "map.json", "map.png")}
    paths["clusters.json"].write_text(json.dumps({**summary, "clusters": records}, indent=1, default=str), encoding="utf-8")
    cands = [{k: v for k, v in r.items() if k != "members"} | {"members": len(r["members"])} for r in records if r["candidate"]]
    paths["candidates.json"].write_text(json.dumps({**summary, "candidates": cands}, indent=1, default=str), encoding="utf-8")
    points = map_points(d.xy, d.clustering.labels, d.top_codes, ids)
    paths["map.json"].write_text(json.dumps({"projection": d.projection, "points": points}, default=str), encoding="utf-8")
    save_map_png(paths["map.png"], d.xy, d.clustering.labels, d.top_codes, candidates={c.label for c in d.candidates}, title=title)
    return paths
