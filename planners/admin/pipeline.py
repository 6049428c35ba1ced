"""Admin for the pipeline, backlog, transcripts and executions."""
