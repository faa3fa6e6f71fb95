"""The agent desk: tickets (工单) from calls, through the province's lifecycle."""
