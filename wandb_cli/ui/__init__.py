"""`wbrun ui`: the W&B App's workspace and run pages, served from the local store.

The only wing that imports the web stack (starlette, uvicorn); nothing outside `cli/ui.py`
imports this package, so other commands never load it.
"""
