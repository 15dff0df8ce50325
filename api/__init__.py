"""HTTP service: chat, ask, documents and citation views."""
