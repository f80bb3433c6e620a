"""The OpenAI Responses API front door (``/v1/responses``).

A front door only translates: :mod:`.request` parses a Responses request into the internal chat-completions
body, :mod:`.result` writes a chat completion back as a Response object, :mod:`.events` turns the chat stream
into the Responses' typed events, :mod:`.store` keeps stored responses for ``previous_response_id`` chains.
Everything between (decision, routing, dispatch, budgets) is the one pipeline every front door shares.
"""
