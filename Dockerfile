# The image for `cmem api` and `cmem worker` (see docker-compose.yml).
FROM python:3.11-slim
# torch must be the CPU build: point PIP_EXTRA_INDEX_URL (or PIP_FIND_LINKS) at a source of
# CPU wheels for torch 2.13.0, or the registry's default build pulls gigabytes of CUDA packages.
ARG PIP_EXTRA_INDEX_URL=""
ARG PIP_FIND_LINKS=""
ENV PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} PIP_FIND_LINKS=${PIP_FIND_LINKS} \
    PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY workers ./workers
COPY config ./config
RUN pip install torch==2.13.0 && pip install .
RUN useradd --system --home /var/lib/cmem cmem && mkdir -p /var/lib/cmem/keys \
    && chown -R cmem /var/lib/cmem
USER cmem
EXPOSE 8080
CMD ["cmem", "api", "--host", "0.0.0.0", "--port", "8080"]
