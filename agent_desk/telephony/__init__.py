"""The desk's telephony: agents on softphones (login, logout, pause over AMI) and transfers over real SIP
(three-way to sub-centers, retained seats, one-key, emergency linkage, blind/attended, to a queue), with
per-call recording. The desk wires these functions to its buttons and tickets."""

from agent_desk.telephony.agents import (Membership, Registration, login, logout, member_interface, member_name,
                                         memberships, pause, queues_for, registration, unpause)
from agent_desk.telephony.recording import Recording, recording_path, recordings_dir, start_recording, stop_recording
from agent_desk.telephony.transfers import (FALLBACK_AGENT, LINKAGE_EVENT, TRANSFER_EVENT, LiveCall, Outcome,
                                            TransferError, TransferKind, TransferResult, agent_leaves,
                                            attended_transfer, blind_transfer, cancel_attended_transfer,
                                            complete_attended_transfer, conference_members, emergency_linkage,
                                            agent_call, live_call_of, one_key_transfer, retained_seat_transfer,
                                            three_way_transfer, transfer_to_queue)

__all__ = [
    "Membership", "Registration", "login", "logout", "member_interface", "member_name", "memberships", "pause",
    "queues_for", "registration", "unpause",
    "Recording", "recording_path", "recordings_dir", "start_recording", "stop_recording",
    "FALLBACK_AGENT", "LINKAGE_EVENT", "TRANSFER_EVENT", "LiveCall", "Outcome", "TransferError", "TransferKind",
    "TransferResult", "agent_call", "agent_leaves", "attended_transfer", "blind_transfer", "cancel_attended_transfer",
    "complete_attended_transfer", "conference_members", "emergency_linkage", "live_call_of", "one_key_transfer",
    "retained_seat_transfer", "three_way_transfer", "transfer_to_queue",
]
