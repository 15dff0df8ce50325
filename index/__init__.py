"""Indexing stage: load documents, chunk them with offsets, embed, and build the FAISS + BM25 index."""
