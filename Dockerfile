# Spaces OS as a Hugging Face Docker Space (the Streamlit SDK is deprecated: sdk: docker, app_port: 8501).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_DISABLE_TELEMETRY=1

# Spaces run the container as UID 1000.
RUN useradd --create-home --uid 1000 user
USER 1000
ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
RUN pip install --user --no-cache-dir -r requirements.txt

COPY --chown=user . .

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

# The database goes on the mounted bucket volume (/data) when there is one (see core/store), else on the
# container disk. XSRF protection is off because Spaces render the app in a third-party iframe.
CMD ["streamlit", "run", "Home.py", "--server.port=8501", "--server.address=0.0.0.0", \
     "--server.enableXsrfProtection=false", "--server.headless=true", "--browser.gatherUsageStats=false"]
