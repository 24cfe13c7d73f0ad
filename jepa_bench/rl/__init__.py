"""The torch side: environments and renderer, input scaling, the ViT and CNN encoders, the JEPA
parts, PPO/A2C, the agent and its loss (Eq. 3), the trainer, a run folder's life, the machine
record, and the supervised probe of an encoder.

Everything that imports torch lives here (and in jepa_bench.tools). Nothing in
jepa_bench.analysis or jepa_bench.studies imports this package; it may import the top-level
contracts (config, layout, metrics, errors) and nothing else of the package.
"""
