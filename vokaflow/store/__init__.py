"""Redis: key names, the task store, API keys, the embedded server and the Lua scripts."""
