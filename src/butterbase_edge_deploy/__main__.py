from butterbase_edge_deploy.cli import main

raise SystemExit(main())
