from pirlib.cli import main

raise SystemExit(main())
