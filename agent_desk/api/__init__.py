"""HTTP and WebSocket surface of the desk: parse, authorise, call a use case, answer in JSON (messages in 中文)."""
