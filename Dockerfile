# The action's image, in the shape of pypa/gh-action-pypi-publish: a slim Python, the runtime
# dependencies pinned with hashes, the action's own package, one entrypoint. Nothing else.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app/src \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The lock lists exactly what the action imports, so --no-deps keeps unused declared dependencies out.
COPY requirements.lock /app/requirements.lock
RUN pip install --no-deps --require-hashes --no-cache-dir -r /app/requirements.lock

COPY src/butterbase_edge_deploy/ /app/src/butterbase_edge_deploy/
COPY entrypoint.py /app/entrypoint.py
# Compiled once here: the runtime never writes .pyc (PYTHONDONTWRITEBYTECODE), so each run would
# recompile. entrypoint.py runs as a script, which Python never caches.
RUN python -m compileall -q /app/src

ENTRYPOINT ["python", "/app/entrypoint.py"]
