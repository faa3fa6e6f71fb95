"""IVR logic of the 12345 hotline: flows, prompts and speech prefill, independent of the AGI transport."""
