"""Deploy Edge SSR apps to Butterbase from GitHub Actions or the command line."""

__version__ = "0.1.0"
