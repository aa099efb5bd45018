# One image for every trtlens process (streams workers, sink, producers).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY infra infra
COPY schemas schemas
COPY producers producers
COPY streams streams
COPY sinks sinks
RUN pip install --no-cache-dir . && useradd --create-home trtlens
USER trtlens
ENTRYPOINT ["trtlens"]
CMD ["--help"]
