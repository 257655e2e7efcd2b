"""The console: server-rendered pages over the same handlers the API answers with, served
by the gateway at /console. Every check a page makes on what a principal may see or do is
the API's own: pages call the API's route functions, never a copy of their rules."""
