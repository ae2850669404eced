"""Baselines: classical autofocus and auto-exposure state machines, and the paper's RL baselines."""
