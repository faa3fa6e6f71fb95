"""Names of the sound files the dialplan plays, derived from the number plan.

The generator writes these names into the dialplan and the prompt renderer (``ivr.prompts``)
produces files under the same names, so the two can never drift apart.
"""


def greeting(number: str) -> str:
    return f"line-{number}-greeting"


def notice(number: str) -> str:
    """过渡期 notice of a cancelled number, played before the call joins 12345."""
    return f"line-{number}-notice"


def retired(number: str) -> str:
    """Played after a cancelled number's cut-over: gives 12345 and offers to connect."""
    return f"line-{number}-retired"


# Prompts of the core flow that do not depend on a line.
TRANSFER_FAILED = "transfer-failed"
EMERGENCY_FALLBACK = "emergency-fallback"
PLEASE_HOLD = "please-hold"
