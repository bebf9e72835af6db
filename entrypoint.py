"""Docker action entry point: the GitHub runner sets INPUT_* and the file-command variables."""

import sys
from pathlib import Path

# Outside the image (python entrypoint.py from a checkout) the package sits under src/.
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

try:
    from butterbase_edge_deploy.action import main
except ImportError as exc:  # run outside the image without the dependencies installed
    print(f"::error::cannot start: {exc}. Fix: run `make venv` and use .venv/bin/python entrypoint.py")
    sys.exit(1)

if __name__ == "__main__":
    sys.exit(main())
