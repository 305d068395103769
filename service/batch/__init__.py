"""The file-based batch pipeline (`loupe code`): files in, a folder of outputs out, no database.

    run.py      run_batch: scan, code chunk by chunk, resume, finish (index, summary)
    inputs.py   collect, read and segment the input files
    chunks.py   code_chunk: embed one chunk and propose codes (both engines call it)
    sinks.py    ChunkSink: where chunks go (JSONL files, or Parquet part files), run.json
    records.py  the records written (documents, segments, suggestions), the CSV, the summary
    ray.py      run_batch_ray: the same chunks coded by Ray actors across a cluster

Invariants: nothing here imports service.storage or sqlalchemy (an import-linter contract);
the single-machine and Ray engines write the same outputs for the same inputs and model.
"""
