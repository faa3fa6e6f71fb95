"""What crosses between the IVR side (``ivr``, ``agi_scripts``) and the desk (``agent_desk``): every Redis key,
channel and stream they share, and the typed payload on each, defined once here and imported by both sides.

| contract          | where in Redis                                  | writer → reader        |
|-------------------|-------------------------------------------------|------------------------|
| ``prefill``       | ``hotline:prefill:<call id>`` + channel ``hotline:prefill`` | IVR → desk (pop, live transcript) |
| ``ticket_status`` | hash ``hotline:ticket-status:<number>``          | desk → IVR (工单进度查询) |
| ``survey``        | stream ``hotline:surveys``                        | IVR → desk (满意度评价) |
| ``transcript``    | stream ``hotline:transcript:<id>``, channel ``hotline:transcript`` | IVR → desk (turns) |
| ``asr``           | streams ``hotline:asr:jobs:<class>``, ``hotline:asr:replies:<server>`` | IVR ↔ ASR workers |

Every payload carries its contract's version (``v``). A reader refuses a payload of another version with
``ContractMismatch`` and logs it as an error: during an upgrade that mixes versions, the mismatch is loud (the
pop shows no prefill and the log says why) instead of a silently half-read draft.
"""

from hotline.contracts.base import ContractMismatch

__all__ = ["ContractMismatch"]
