"""Memos, case attributes, matrix queries, code counts and co-occurrence."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Form, Query, Response, UploadFile, status

from service.analysis import attributes, memos
from service.analysis import matrix as analysis_matrix
from service.deps import (
    CoderDep,
    DbDep,
    Id,
    MemberDep,
    OwnerDep,
    SessionDep,
    SettingsDep,
)
from service.schemas.analysis import (
    AttributesImported,
    AttributesRead,
    CodeCountsRead,
    MatrixQuery,
    MatrixRead,
    MemoCreate,
    MemoRead,
)
from service.schemas.text import Name
from service.uploads import read_limited

router = APIRouter(tags=["analysis"])
Attributes = Annotated[dict[Name, str | int | float | bool | None], Body(examples=[{"sector": "NHS", "site": "North", "years": 12}])]


@router.post("/projects/{project_id}/memos", status_code=status.HTTP_201_CREATED, response_model=MemoRead)
def add_memo(project: MemberDep, coder: CoderDep, db: DbDep, body: MemoCreate) -> Any:
    """Add a dated, attributed memo entry. Memos are never edited: send `replaces` to revise one."""
    return memos.new_memo(db, project=project, coder=coder, target_kind=body.target_kind, target=body.target, text=body.text, replaces=body.replaces)


@router.get("/projects/{project_id}/memos", response_model=list[MemoRead])
def list_memos(project: MemberDep, coder: CoderDep, session: SessionDep, target_kind: Annotated[str | None, Query(max_length=20)] = None,
               target: Annotated[str | None, Query(max_length=500)] = None) -> Any:
    """Every memo entry (oldest first), optionally of one target: the whole history (blind projects: a coder's own)."""
    return memos.memos(session, project=project, coder=coder, target_kind=target_kind, target=target)


@router.patch("/projects/{project_id}/documents/{document_id}/attributes", response_model=AttributesRead)
def document_attributes(project: OwnerDep, db: DbDep, document_id: Id, body: Attributes) -> Any:
    """Set a document's attributes (merged; null removes one)."""
    return attributes.edit_attributes(db, project=project, scope="document", key=document_id, values=body)


@router.patch("/projects/{project_id}/speakers/{speaker}/attributes", response_model=AttributesRead)
def speaker_attributes(project: OwnerDep, db: DbDep, speaker: str, body: Attributes) -> Any:
    """Set a speaker's attributes (merged; null removes one)."""
    return attributes.edit_attributes(db, project=project, scope="speaker", key=speaker, values=body)


@router.post("/projects/{project_id}/attributes/csv", response_model=AttributesImported)
async def attributes_csv(project: OwnerDep, db: DbDep, settings: SettingsDep, scope: Annotated[Literal["document", "speaker"], Form()],
                         file: Annotated[UploadFile, File(description="CSV: first column the document name (or speaker), then one column per attribute")]) -> Any:
    """Import attributes from a CSV (typed: whole numbers, numbers, true/false, text). All rows or none."""
    data = await read_limited(file, settings.max_upload_bytes)
    return attributes.import_csv(db, project=project, scope=scope, data=data)


@router.post("/projects/{project_id}/matrix", response_model=MatrixRead,
             responses={200: {"content": {"application/json": {}, "text/csv": {}, "image/png": {}}}})
def matrix(project: MemberDep, coder: CoderDep, session: SessionDep, body: MatrixQuery,
                 format: Literal["json", "csv", "png"] = "json") -> Any:
    """A matrix coding query: counts of coded segments (or documents) per row x column, with the
    passages behind each cell. Rows and columns are codes (a code counts its sub-codes) or the
    values of a document or speaker attribute."""
    result = analysis_matrix.matrix_for(session, project=project, coder=coder, rows=body.rows, cols=body.cols, measure=body.measure, where=body.where)
    if format == "png":
        from eval.analysis import save_heatmap

        buf = io.BytesIO()
        save_heatmap(result, buf, title=f"{project.name}: coded {body.measure}")
        return Response(buf.getvalue(), media_type="image/png")
    if format == "csv":
        from eval.analysis import matrix_csv

        return Response(matrix_csv(result), media_type="text/csv; charset=utf-8")
    return result


@router.get("/projects/{project_id}/code-counts", response_model=CodeCountsRead)
def code_counts(project: MemberDep, coder: CoderDep, session: SessionDep,
                window: Annotated[int, Query(ge=0, le=50, description="co-occurrence within this many segments (0: the same segment)")] = 0) -> Any:
    """Per code: coded segments, documents and coders; and code x code co-occurrence."""
    return analysis_matrix.counts_for(session, project=project, coder=coder, window=window)


PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}}}


@router.get("/projects/{project_id}/charts/frequency.png", response_class=Response, responses=PNG)
def frequency_chart(project: MemberDep, coder: CoderDep, session: SessionDep,
                    by: Annotated[Literal["document", "attribute"], Query(description="split each code's bar by document or by an attribute's values")] = "document",
                    attribute: Annotated[str | None, Query(max_length=200, description="with by=attribute: document:NAME or speaker:NAME")] = None,
                    codes: Annotated[Literal["top", "all"], Query(description="top-level codes (counting their sub-codes) or every code")] = "top") -> Response:
    """Code frequency as a bar chart (PNG): coded segments per code, split by document or attribute value."""
    from service.analysis.charts import frequency_png_for

    return Response(frequency_png_for(session, project=project, coder=coder, by=by, attribute=attribute, codes=codes), media_type="image/png")


@router.get("/projects/{project_id}/charts/cooccurrence.png", response_class=Response, responses=PNG)
def cooccurrence_chart(project: MemberDep, coder: CoderDep, session: SessionDep,
                       window: Annotated[int, Query(ge=0, le=50, description="co-occurrence within this many segments (0: the same segment)")] = 0,
                       codes: Annotated[Literal["top", "all"], Query(description="top-level codes or every code")] = "all") -> Response:
    """Code co-occurrence as a heatmap (PNG), every cell labelled with its count."""
    from service.analysis.charts import cooccurrence_png_for

    return Response(cooccurrence_png_for(session, project=project, coder=coder, window=window, codes=codes), media_type="image/png")


@router.get("/projects/{project_id}/report.html", response_class=Response, responses={200: {"content": {"text/html": {}}}})
def report(project: OwnerDep, session: SessionDep,
           n_boot: Annotated[int, Query(ge=0, le=2000, description="bootstrap resamples for the agreement intervals")] = 200) -> Response:
    """A self-contained HTML report: codebook and counts, themes, matrix tables, agreement, memos, method record."""
    from service.analysis.report import build_report

    return Response(build_report(session, project=project, n_boot=n_boot), media_type="text/html; charset=utf-8")
