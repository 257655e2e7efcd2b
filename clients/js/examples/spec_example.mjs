// The "JavaScript SDK" example of the API reference (shared/spec/API_REFERENCE.md, "SDK
// Examples"), copied verbatim below the marker line. The only changes are baseUrl and
// apiKey, read from VOKAFLOW_URL and VOKAFLOW_API_KEY: test/spec_example.test.js runs this
// file against a live service. Keep it unformatted, as published.
// ---------------------------------------------------------------- verbatim from the spec
import { VokaFlowClient } from '@vokaflow/sdk';

// Inicializar cliente
const client = new VokaFlowClient({
    baseUrl: process.env.VOKAFLOW_URL,
    apiKey: process.env.VOKAFLOW_API_KEY
});

// Enviar tarea
const task = await client.submitTask({
    name: 'example_task',
    functionName: 'vicky_inference',
    args: ['Procesar este texto', 'qwen_7b'],
    priority: 'HIGH',
    category: 'vicky'
});

console.log(`Task ID: ${task.taskId}`);

// Consultar estado con polling
const status = await client.waitForCompletion(task.taskId, {
    timeout: 300000, // 5 minutos
    pollInterval: 1000 // 1 segundo
});

console.log(`Task completed: ${status.result}`);
