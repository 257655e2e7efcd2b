#!/usr/bin/env bash
# Every cURL block of the API reference (docs/API_REFERENCE.md), verbatim below
# the marker but for the base URL and the token, read from VOKAFLOW_BASE_URL and
# VOKAFLOW_TOKEN: tests/integration/test_spec_curl_examples.py runs it against the test
# stack. Each command's reply is followed by a line "HTTP <status>" so the test can read it.
set -u
curl() { command curl -s -w '\nHTTP %{http_code}\n' "$@"; }

# ---------------------------------------------------------------- verbatim from the spec
# Health check
curl -X GET "${VOKAFLOW_BASE_URL}/api/health/"

# Enviar tarea
curl -X POST "${VOKAFLOW_BASE_URL}/api/high-scale-tasks/submit" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}" \
  -H "Content-Type: application/json" \
  -d '{
    "name": "example_task",
    "function_name": "vicky_inference",
    "args": ["Texto a procesar", "qwen_7b"],
    "priority": "HIGH",
    "worker_type": "GENERAL_PURPOSE",
    "category": "vicky"
  }'

# Obtener métricas
curl -X GET "${VOKAFLOW_BASE_URL}/api/high-scale-tasks/metrics" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}"

# Consultar estado de tarea
curl -X GET "${VOKAFLOW_BASE_URL}/api/high-scale-tasks/status/550e8400-e29b-41d4-a716-446655440000" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}"

curl -X POST "${VOKAFLOW_BASE_URL}/api/webhooks/configure" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}" \
  -H "Content-Type: application/json" \
  -d '{
    "url": "https://your-app.com/webhooks/vokaflow",
    "events": ["task.completed", "task.failed", "batch.completed"],
    "secret": "your_webhook_secret"
  }'

curl "${VOKAFLOW_BASE_URL}/api/webhooks/notify-secret" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}"

# Métricas por categoría
curl "${VOKAFLOW_BASE_URL}/api/metrics/category/vicky" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}"

# Métricas de worker pools
curl "${VOKAFLOW_BASE_URL}/api/metrics/workers" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}"

# Métricas de Redis cluster
curl "${VOKAFLOW_BASE_URL}/api/metrics/redis" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}"

# Logs de una tarea específica
curl "${VOKAFLOW_BASE_URL}/api/logs/task/550e8400-e29b-41d4-a716-446655440000" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}"

# Logs del sistema por nivel
curl "${VOKAFLOW_BASE_URL}/api/logs?level=ERROR&limit=100" \
  -H "Authorization: Bearer ${VOKAFLOW_TOKEN}"
