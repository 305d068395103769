"""Exchange formats: REFI-QDA codebooks (.qdc) and projects (.qdpx), to and from QDA tools."""
