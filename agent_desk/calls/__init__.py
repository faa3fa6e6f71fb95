"""Calls become tickets: AMI events → typed call events → live state in Redis, call rows, and screen pops.

``events`` turns raw AMI messages into a few typed events; ``tracker`` applies them (database + Redis +
pop); ``listener`` is the one process that owns the AMI connection and also carries the IVR's live prefill
and post-call surveys to the right places; ``pop`` is the per-agent channel the browser listens on.
"""
