from kubelab.cli import main

raise SystemExit(main())
