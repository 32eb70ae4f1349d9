"""evalfleet: score LLM competition finals on Ray, record every answer, recompute any leaderboard."""

__version__ = "0.1.0"
