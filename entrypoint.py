"""Docker action entry point: the GitHub runner sets INPUT_* and the file-command variables."""

import sys
from pathlib import Path

# Outside the image (python entrypoint.py from a checkout) the package sits under src/.
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from butterbase_edge_deploy.action import main

if __name__ == "__main__":
    sys.exit(main())
