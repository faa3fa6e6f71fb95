"""Speech as a service: the media server's client of the ASR worker pool, and the worker (``hotline.contracts.asr``).

``client.AsrClient`` adds one job per phrase to its priority class's stream and resolves a future per phrase from
its own reply stream; ``worker.AsrWorker`` is one worker process's loop (one phrase at a time on one engine;
capacity grows by running more processes, on this machine or others).
"""
