# One image for every Coursework process (intake, workers, beat, flower, migrate):
# the command picks the role, settings come from COURSEWORK_* environment variables.
FROM python:3.11-slim-bookworm

# system tools the families call: ffmpeg (video), bubblewrap + gcc/g++/node (sandbox),
# poppler/zbar + fonts (certificates)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ffmpeg bubblewrap gcc g++ nodejs poppler-utils zbar-tools libzbar0 \
      fonts-noto-core fonts-noto-cjk fonts-dejavu-core fonts-droid-fallback fonts-nanum fonts-symbola \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml alembic.ini celeryconfig.py ./
COPY cli cli
COPY domain domain
COPY intake intake
COPY migrations migrations
COPY schedules schedules
COPY tasks tasks
COPY workers workers
RUN pip install --no-cache-dir -e .

RUN useradd --create-home --uid 10001 coursework && mkdir -p /data && chown coursework /data
USER coursework
ENV PYTHONUNBUFFERED=1 COURSEWORK_LOG_JSON=true
ENTRYPOINT ["coursework"]
CMD ["intake", "--host", "0.0.0.0", "--port", "8000"]
