"""Names of the sound files the dialplan plays, derived from the number plan.

The generator writes these names into the dialplan and the prompt renderer (``ivr.prompts``)
produces files under the same names, so the two can never drift apart.
"""


def greeting(number: str) -> str:
    return f"line-{number}-greeting"


def notice(number: str) -> str:
    """过渡期 notice of a cancelled number, played before the call joins 12345."""
    return f"line-{number}-notice"


def transfer_notice(number: str) -> str:
    """Played to the citizen before a transfer to a retained-seat line (双号并行 第三类): who, and that it is
    recorded."""
    return f"transfer-{number}-notice"


def retired(number: str) -> str:
    """Played after a cancelled number's cut-over: gives 12345 and offers to connect."""
    return f"line-{number}-retired"


# Prompts of the core flow that do not depend on a line.
TRANSFER_FAILED = "transfer-failed"
EMERGENCY_FALLBACK = "emergency-fallback"
PLEASE_HOLD = "please-hold"
EMERGENCY_DEFAULT = "110"   # the emergency hand-off when the caller picks no service (police take every kind)

# Queue-first intake (queues.conf): the invitation to describe the matter while waiting, the "still in line"
# announcements after it, and the faint tone that replaces music while the caller may be speaking.
QUEUE_DESCRIBE = "queue-describe"
QUEUE_STILL_WAITING = "queue-still-waiting"
QUEUE_COMFORT = "queue-comfort"

# Agent feature codes (*11 login, *12 logout, *13 pause, *14 resume): what the softphone hears.
AGENT_LOGGED_IN = "agent-logged-in"
AGENT_LOGGED_OUT = "agent-logged-out"
AGENT_PAUSED = "agent-paused"
AGENT_UNPAUSED = "agent-unpaused"
