"""The launcher: what an operator runs (the ``hotline`` command). It installs a center (secrets, the generated
Asterisk config, prompts, models, the desk's database), runs Asterisk (the host's package or a Debian sid
root built once), and starts the center's processes, each built by its own package's builder
(``agi_scripts.app``, ``agent_desk.process``).

The launcher sits on top: it imports every other package, and nothing imports it.
"""
