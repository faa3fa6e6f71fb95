"""FastAGI server: thin routes in one table, each calling IVR logic kept in ``ivr/``."""
