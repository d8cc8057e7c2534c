from mpctl.cli import main

raise SystemExit(main())
