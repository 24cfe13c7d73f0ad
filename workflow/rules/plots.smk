# Figures from the summary tables (jepa_bench.analysis.plots.make_figures), PNG and PDF.


rule plots:
    input:
        curves=rules.aggregate.output.curves,
        stats=rules.aggregate.output.stats,
        meta=rules.aggregate.output.meta,
    output:
        returns=multiext(f"{FIGURES}/fig3_return", ".png", ".pdf"),
        embed_var=multiext(f"{FIGURES}/embed_var", ".png", ".pdf"),
        jepa_loss=multiext(f"{FIGURES}/jepa_loss", ".png", ".pdf"),
        embed_rank=multiext(f"{FIGURES}/embed_rank", ".png", ".pdf"),
    log:
        f"{LOGS}/plots.log",
    params:
        summary=lambda wildcards, input: os.path.dirname(input.meta),
        out_dir=lambda wildcards, output: os.path.dirname(output.returns[0]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench plots --summary {params.summary} --out {params.out_dir} > {log} 2>&1"
