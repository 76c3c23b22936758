"""Benchmarks: tasks x models -> results JSON -> leaderboard markdown + plot.

``run("darcy85", "fno", out="results")`` trains and evaluates one entry (generating the
task's data when missing) and writes its results JSON; ``table("results", out="leaderboard.md")``
renders the leaderboard. Tasks: ``darcy85``, ``ns-1e-3``, ``burgers`` (see ``TASKS``).
"""
from .leaderboard import load_results, plot, table
from .runner import SCHEMA, ensure_data, hardware, run
from .tasks import TASKS, Published, Task, get_task, register_task

__all__ = ["run", "table", "plot", "load_results", "hardware", "ensure_data", "SCHEMA", "TASKS", "Task", "Published",
           "get_task", "register_task"]
