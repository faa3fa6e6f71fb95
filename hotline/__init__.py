"""Telephony core of the 12345 hotline: number plan, Asterisk config generator, local Asterisk runner."""
