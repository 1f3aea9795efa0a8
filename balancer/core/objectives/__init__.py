"""Objectives: what a plan is for. Each mutates a ``Planning`` run; evacuation of the
hosts that must be emptied always runs first."""
