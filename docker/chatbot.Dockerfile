# The RAG chatbot example (examples/rag_chatbot) as the app beside tollgate in compose.yml.
# Its dependencies are installed once, at build time, never at start.
FROM python:3.12-slim
COPY examples/requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt
COPY examples/rag_chatbot /app/rag_chatbot
USER nobody
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
CMD ["python", "/app/rag_chatbot/app.py"]
