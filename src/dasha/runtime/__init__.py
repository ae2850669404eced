"""Run trained policies on live cameras (single-shot and continuous tuning), without Ray."""
