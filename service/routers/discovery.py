"""Inductive discovery: clusters of a project's segments and the candidate codes among them.

Run clustering as a job: POST /projects/{id}/jobs {"kind": "cluster", "params": {...}}. A run's
coverage and codes count every coder's codings, so a coder of a blind project cannot read runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from service.deps import (
    MAX_ID,
    CoderDep,
    DbDep,
    Id,
    MemberDep,
    OwnerDep,
    RunnerDep,
    SessionDep,
    UnblindedDep,
)
from service.discovery import actions as cluster_actions
from service.discovery import clusters as svc
from service.schemas.discovery import (
    ActionRead,
    ActionResult,
    AdoptBody,
    ClusterDetail,
    ClusterMap,
    ClustersRead,
    DismissBody,
    MergeBody,
)

router = APIRouter(tags=["discovery"])
RunId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="a cluster run (default: the latest)")]


@router.get("/projects/{project_id}/clusters", response_model=ClustersRead)
def list_clusters(project: UnblindedDep, session: SessionDep, run: RunId = None,
                  candidates: Annotated[bool, Query(description="only the candidate codes")] = False) -> Any:
    """The clusters of the latest run (or of `run`), largest first; `candidates=true` lists only those
    the codebook covers poorly, each with a suggested name and definition."""
    return svc.clusters_view(session, project=project, run_id=run, candidates_only=candidates)


@router.get("/projects/{project_id}/clusters/candidates", response_model=ClustersRead)
def list_candidates(project: UnblindedDep, session: SessionDep, run: RunId = None) -> Any:
    """The candidate codes of the latest run: clusters below the coverage threshold."""
    return svc.clusters_view(session, project=project, run_id=run, candidates_only=True)


@router.get("/projects/{project_id}/clusters/map.json", response_model=ClusterMap)
def cluster_map(project: UnblindedDep, session: SessionDep, run: RunId = None) -> Any:
    """The 2-D map of the run: one point per segment with its cluster (-1: noise) and top code."""
    return svc.run_map(session, project=project, run_id=run)


@router.get("/projects/{project_id}/clusters/map.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def cluster_map_png(project: UnblindedDep, session: SessionDep, run: RunId = None) -> Response:
    """The map as a PNG: by cluster (candidate codes in red) and by top code."""
    return Response(svc.map_png(session, project=project, run_id=run), media_type="image/png")


@router.get("/projects/{project_id}/clusters/{cluster_id}", response_model=ClusterDetail)
def read_cluster(project: UnblindedDep, session: SessionDep, cluster_id: Id) -> Any:
    return svc.get_cluster(session, project, cluster_id)


@router.post("/projects/{project_id}/clusters/{cluster_id}/adopt", response_model=ActionResult)
def adopt(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, cluster_id: Id, body: AdoptBody) -> Any:
    """Adopt a candidate as a new code: a new codebook version holds it (with the cluster's
    representatives as examples), its members become suggestions of it, and a suggest job is queued."""
    return cluster_actions.adopt_cluster(db, runner, project=project, coder=coder, cluster_id=cluster_id,
                                         name=body.name, definition=body.definition, parent=body.parent)


@router.post("/projects/{project_id}/clusters/{cluster_id}/merge", response_model=ActionResult)
def merge(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, cluster_id: Id, body: MergeBody) -> Any:
    """Merge a cluster into an existing code: its representatives become examples of that code (a new version)."""
    return cluster_actions.merge_cluster(db, runner, project=project, coder=coder, cluster_id=cluster_id, code=body.code, note=body.note)


@router.post("/projects/{project_id}/clusters/{cluster_id}/dismiss", response_model=ActionResult)
def dismiss(project: OwnerDep, coder: CoderDep, db: DbDep, cluster_id: Id, body: DismissBody) -> Any:
    """Dismiss a candidate (recorded, with the note)."""
    return cluster_actions.dismiss_cluster(db, project=project, coder=coder, cluster_id=cluster_id, note=body.note)


@router.get("/projects/{project_id}/cluster-actions", response_model=list[ActionRead])
def actions(project: MemberDep, session: SessionDep) -> Any:
    """Every adopt, merge and dismiss, oldest first."""
    return svc.actions_of(session, project)
