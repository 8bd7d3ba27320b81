"""Integrations with other frameworks (optional extras): ``pipecat`` for voice agents."""
