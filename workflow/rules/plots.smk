# Figures from the summary tables (jepa_bench.analysis.plots.make_figures), PNG and PDF.
# The PNGs (not the PDFs) are results of `snakemake --report`, captions in workflow/report/; so
# is the summary.json they are drawn from, whose labels name its runs and their git revisions.

from jepa_bench.tools.report_labels import runs_labels


rule plots:
    input:
        curves=rules.aggregate.output.curves,
        stats=rules.aggregate.output.stats,
        meta=report(str(rules.aggregate.output.meta), caption="../report/summary.rst",
                    category="Provenance",
                    labels=lambda wildcards, input: runs_labels(input.meta)),
    output:
        returns=[
            report(f"{FIGURES}/fig3_return.png", caption="../report/fig3_return.rst",
                   category="Figures",
                   labels={"figure": "return (Figure 3)", "settings set": SETTINGS}),
            f"{FIGURES}/fig3_return.pdf",
        ],
        embed_var=[
            report(f"{FIGURES}/embed_var.png", caption="../report/embed_var.rst",
                   category="Figures",
                   labels={"figure": "embedding variance", "settings set": SETTINGS}),
            f"{FIGURES}/embed_var.pdf",
        ],
        jepa_loss=[
            report(f"{FIGURES}/jepa_loss.png", caption="../report/jepa_loss.rst",
                   category="Figures",
                   labels={"figure": "JEPA loss", "settings set": SETTINGS}),
            f"{FIGURES}/jepa_loss.pdf",
        ],
        embed_rank=[
            report(f"{FIGURES}/embed_rank.png", caption="../report/embed_rank.rst",
                   category="Figures",
                   labels={"figure": "effective rank", "settings set": SETTINGS}),
            f"{FIGURES}/embed_rank.pdf",
        ],
    log:
        f"{LOGS}/plots.log",
    params:
        summary=lambda wildcards, input: os.path.dirname(input.meta),
        out_dir=lambda wildcards, output: os.path.dirname(output.returns[0]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench plots --summary {params.summary} --out {params.out_dir} > {log} 2>&1"
