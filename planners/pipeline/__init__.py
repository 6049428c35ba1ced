"""The pipeline engine: runs any registered pipeline (a family of planners run as phases over a
backlog). It knows no family: fiction, non-fiction and scaffolded planners register themselves
with ``register_pipeline`` (see ``planners.pipeline.registry``) and the engine drives them alike.
"""
