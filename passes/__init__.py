"""Graph -> Graph passes and the pipeline that runs them (see pipeline.py)."""
