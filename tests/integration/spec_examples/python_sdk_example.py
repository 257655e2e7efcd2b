# The "Python SDK" example of the API reference (docs/API_REFERENCE.md, "SDK
# Examples"), copied verbatim below the marker line. The only changes are base_url and
# api_key, read from VOKAFLOW_BASE_URL and VOKAFLOW_API_KEY: tests/integration/test_sdk.py
# runs this file against the test stack. Keep it unformatted and unlinted, as published.
# ruff: noqa
# fmt: off
import os

# ---------------------------------------------------------------- verbatim from the spec
import asyncio
from vokaflow_sdk import VokaFlowClient

# Inicializar cliente
client = VokaFlowClient(
    base_url=os.environ["VOKAFLOW_BASE_URL"],
    api_key=os.environ["VOKAFLOW_API_KEY"]
)

async def example_usage():
    # Enviar tarea individual
    task = await client.submit_task(
        name="example_task",
        function_name="vicky_inference",
        args=["Procesar este texto", "qwen_7b"],
        priority="HIGH",
        category="vicky"
    )
    print(f"Task ID: {task.task_id}")
    
    # Enviar batch de tareas
    batch = await client.submit_batch([
        {
            "name": "task_1",
            "function_name": "audio_analysis",
            "args": ["/path/audio1.wav", ["transcription"]],
            "priority": "NORMAL",
            "category": "audio"
        },
        {
            "name": "task_2", 
            "function_name": "vicky_inference",
            "args": ["Texto a procesar", "qwen_7b"],
            "priority": "HIGH",
            "category": "vicky"
        }
    ])
    print(f"Batch submitted: {batch.total_submitted} tasks")
    
    # Consultar estado
    status = await client.get_task_status(task.task_id)
    print(f"Task status: {status.status}")
    
    # Obtener métricas
    metrics = await client.get_metrics()
    print(f"Throughput: {metrics.throughput_per_second} req/s")

# Ejecutar ejemplo
asyncio.run(example_usage())
