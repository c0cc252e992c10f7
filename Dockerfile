# One image for every riskwatch process; the command picks the role (`riskwatch serve <app>`
# or `riskwatch worker <service>`, the names of riskwatch/processes.py).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY shared ./shared
COPY services ./services
COPY gateway ./gateway
COPY riskwatch ./riskwatch
RUN pip install --no-cache-dir .
RUN useradd --system --uid 10001 riskwatch
USER riskwatch
ENV RISKWATCH_HOST=0.0.0.0
CMD ["riskwatch", "serve", "gateway"]
