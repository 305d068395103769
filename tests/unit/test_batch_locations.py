"""`loupe code` (run_batch) on the new inputs: a PDF's pages, caption times and a CSV's speaker
column reach segments.jsonl and the Parquet segments, with offsets into the stored text."""

from __future__ import annotations

import json

from models.classifiers.zero_shot import ZeroShotClassifier
from models.embedders.sentence_transformers import SentenceTransformerEmbedder
from service.batch.inputs import ReadOptions
from service.batch.run import BatchOptions, run_batch
from tests.unit.test_readers_formats import VTT, make_pdf


def test_pages_times_and_speaker_column_reach_the_outputs(tmp_path, seed):
    src = tmp_path / "in"
    src.mkdir()
    (src / "report.pdf").write_bytes(make_pdf([["Trust in the board grew slowly."], ["Funding was the hardest part."]]))
    (src / "call.vtt").write_text(VTT)
    (src / "survey.csv").write_text("rid,who,answer\nr1,Ana,We trust the board.\n")
    embedder = SentenceTransformerEmbedder(threads=2)
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / fmt
        opts = BatchOptions(inputs=[src], out_dir=out, read=ReadOptions(text_column="answer", id_column="rid", speaker_column="who"),
                            output_format=fmt)
        run_batch(opts, codebook=seed, embedder=embedder, classifier=ZeroShotClassifier(seed, embedder))
        if fmt == "jsonl":
            segs = [json.loads(line) for line in (out / "segments.jsonl").read_text().splitlines()]
        else:
            import pyarrow.parquet as pq

            segs = [r for f in sorted(out.glob("segments*/*.parquet")) for r in pq.read_table(f).to_pylist()]
        docs = {json.loads(line)["id"]: json.loads(line)["text"] for line in (out / "documents.jsonl").read_text().splitlines()} \
            if (out / "documents.jsonl").exists() else None
        by_text = {s["text"]: s for s in segs}
        assert by_text["Trust in the board grew slowly."]["page"] == 1
        assert by_text["Funding was the hardest part."]["page"] == 2
        assert (by_text["How did the project start?"]["start_s"], by_text["How did the project start?"]["end_s"]) == (1.0, 4.5)
        assert by_text["We trust the board."]["speaker"] == "Ana"
        if docs is not None:
            for s in segs:
                assert docs[s["document"]][s["start"]:s["end"]] == s["text"]
