"""Tools for a person at the keyboard: the throughput benchmark (which times the trainer's own
minibatch step, jepa_bench.rl.trainer.minibatch_step) and the rerun check of a committed run.

May import jepa_bench.rl and jepa_bench.analysis; nothing in the package imports this folder
except the command line.
"""
