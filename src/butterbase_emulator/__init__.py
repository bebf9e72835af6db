"""A local stand-in for Butterbase's Edge SSR control API, its object storage and its sites.

Standard library only; shares no code with the deploy client. Run ``butterbase-emulator``
(or ``python -m butterbase_emulator``); see docs/EMULATOR.md.
"""

__all__ = ["DEV_API_KEY"]

from .emulator import DEV_API_KEY
