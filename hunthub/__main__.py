from hunthub.cli import main

raise SystemExit(main())
