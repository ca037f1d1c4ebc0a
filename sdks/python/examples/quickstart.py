"""Quickstart: register an agent, give it a credential, call the API as that
agent, and handle an error. Run it against `make dev`:

    . .dev/env && python examples/quickstart.py
"""

import os

from sentryagent_idp import AgentIdPClient, AgentIdPError

url = os.environ["AGENTIDP_URL"]  # the gateway, e.g. http://127.0.0.1:8080

with AgentIdPClient(url, os.environ["AGENTIDP_CLIENT_ID"], os.environ["AGENTIDP_CLIENT_SECRET"]) as admin:
    agent = admin.agents.register("invoice-bot", owner="team-finance", scopes=["agents:read"])
    cred = admin.credentials.generate(agent.agent_id)
    # Printing a Secret shows Secret('**********'); cred.client_secret.reveal()
    # is the value to store in your secret manager. It is never shown again.
    print("registered", agent.agent_id, "secret", cred.client_secret)

    # The agent itself: the client gets and refreshes its own token.
    with AgentIdPClient(url, cred.client_id, cred.client_secret) as bot:
        me = bot.agents.get(agent.agent_id)
        print("I am", me.name, "and I am", me.status)

    # Lists are iterators that fetch pages as you go.
    for a in admin.agents.list(owner="team-finance", status="active"):
        print("active in team-finance:", a.name)

    # Errors carry a stable code.
    try:
        admin.agents.get("0190f8a0-0000-7000-8000-000000000000")
    except AgentIdPError as e:
        print(e.code, e.http_status)  # AGENT_NOT_FOUND 404

    admin.agents.decommission(agent.agent_id)
