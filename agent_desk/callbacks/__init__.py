"""未接来电回拨 (calling citizens back): every call that ended before an agent answered becomes a callback task,
one per caller, worked by agents with the 回拨 button (the agent's phone rings first, then the citizen over the
carrier trunk with 12345 as caller ID).

``rules`` holds the policy (target, quiet hours, retries, number checks) as pure functions of an injected clock;
``store`` the tasks and their calls in the database; ``dialer`` the calls over AMI and the generated
``[hotline-outbound]`` context; ``agent_desk.api.callbacks`` the HTTP API.
"""
