# The Flash Green ops suite as an image (for users with a registry; CI builds the same image
# offline: ci/build_suite_image.sh). Its entrypoint is the preflight on the process environment:
#
#   docker run --rm --env-file .env.production flash-green-ops            # exit 0 / 1 / 2
#   docker run --rm --entrypoint pytest flash-green-ops ops_tests -m "live and preflight" --env-file ...
#
# The Kubernetes manifests (deploy/kubernetes/) run it with their own commands. A Flash Green
# service image built FROM it runs its service through the container entrypoint:
#   ENTRYPOINT ["flash-green-entrypoint"]   CMD ["the-service", "--its", "args"]
# (preflight, then alembic upgrade head when ALEMBIC_CONFIG is set, then exec of the service).
FROM python:3.11-slim

# pg_dump and psql of the database step and the backup (Debian bookworm's PostgreSQL 15 client).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/flash-green-ops
# The library first: its layer is rebuilt only when it changes.
COPY pyproject.toml README.md ./
COPY flash_green_ops ./flash_green_ops
RUN pip install --no-cache-dir . && rm -rf build *.egg-info
# The runbook suite and its commands (pytest reads them from the working directory).
COPY conftest.py pytest.ini ./
COPY ops_tests ./ops_tests
COPY fixtures ./fixtures
COPY scripts ./scripts

# Non-root, numeric (Kubernetes' runAsNonRoot can check a number, not a name).
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin flashgreen
USER 10001:10001
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTEST_ADDOPTS="-p no:cacheprovider"

ENTRYPOINT ["python", "scripts/preflight_check.py"]
