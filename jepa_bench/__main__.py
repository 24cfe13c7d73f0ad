from jepa_bench.cli import main

raise SystemExit(main())
