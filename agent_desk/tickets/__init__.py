"""Tickets (工单): the lifecycle the province's rules define, independent of storage and transport."""
